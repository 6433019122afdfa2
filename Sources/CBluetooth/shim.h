#ifndef WARDEN_CBLUETOOTH_SHIM_H
#define WARDEN_CBLUETOOTH_SHIM_H
#include <sys/socket.h>
#include <string.h>
#include <errno.h>
#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <bluetooth/hci_lib.h>
#include <bluetooth/l2cap.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Macros and struct initialisers Swift cannot import directly. */
static inline int warden_bt_af_bluetooth(void) { return AF_BLUETOOTH; }
static inline int warden_bt_proto_l2cap(void) { return BTPROTO_L2CAP; }
static inline unsigned char warden_bt_bdaddr_le_public(void) { return BDADDR_LE_PUBLIC; }
static inline unsigned char warden_bt_bdaddr_le_random(void) { return BDADDR_LE_RANDOM; }
static inline int warden_bt_sol_bluetooth(void) { return SOL_BLUETOOTH; }
static inline int warden_bt_security_opt(void) { return BT_SECURITY; }
static inline int warden_bt_rcvmtu_opt(void) { return BT_RCVMTU; }
static inline int warden_bt_sndmtu_opt(void) { return BT_SNDMTU; }

/* Byte order of l2_psm / l2_cid in struct sockaddr_l2: Bluetooth is little-endian (htobs/btohs). */
static inline uint16_t warden_bt_htobs(uint16_t v) { return htobs(v); }
static inline uint16_t warden_bt_btohs(uint16_t v) { return btohs(v); }

/* HCI_UP flag of a device (hci_test_bit takes a non-const pointer). */
static inline int warden_bt_dev_is_up(struct hci_dev_info *di) { return hci_test_bit(HCI_UP, &di->flags); }

/* Powers a controller on (HCIDEVUP on a raw HCI control socket; needs CAP_NET_ADMIN). 0, or -1 with errno
 * (EALREADY when it is already up). */
static inline int warden_bt_dev_up(int dev_id) {
    int ctl = socket(AF_BLUETOOTH, SOCK_RAW | SOCK_CLOEXEC, BTPROTO_HCI);
    if (ctl < 0) return -1;
    int rc = ioctl(ctl, HCIDEVUP, dev_id);
    int saved = errno;
    close(ctl);
    errno = saved;
    return rc;
}

/* Wakes threads blocked in poll() when a socket is closed from another thread. */
/* LE legacy advertising through raw HCI commands (used when bluetoothd does not manage the adapter). Each returns
   0, or -1 with errno; `status` receives the controller's HCI status byte (0 = success). */
static inline int warden_bt_le_adv_params(int dd, uint16_t min_interval, uint16_t max_interval, uint8_t *status) {
    le_set_advertising_parameters_cp cp;
    memset(&cp, 0, sizeof(cp));
    cp.min_interval = htobs(min_interval);
    cp.max_interval = htobs(max_interval);
    cp.advtype = 0x00;      /* ADV_IND: connectable undirected */
    cp.own_bdaddr_type = 0x00; /* public */
    cp.chan_map = 0x07;     /* channels 37, 38, 39 */
    cp.filter = 0x00;
    struct hci_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.ogf = OGF_LE_CTL; rq.ocf = OCF_LE_SET_ADVERTISING_PARAMETERS;
    rq.cparam = &cp; rq.clen = LE_SET_ADVERTISING_PARAMETERS_CP_SIZE;
    rq.rparam = status; rq.rlen = 1;
    return hci_send_req(dd, &rq, 1000);
}

static inline int warden_bt_le_adv_data(int dd, const uint8_t *data, uint8_t len, int scan_response, uint8_t *status) {
    if (len > 31) { errno = EINVAL; return -1; }
    le_set_advertising_data_cp cp;
    memset(&cp, 0, sizeof(cp));
    cp.length = len;
    memcpy(cp.data, data, len);
    struct hci_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.ogf = OGF_LE_CTL;
    rq.ocf = scan_response ? OCF_LE_SET_SCAN_RESPONSE_DATA : OCF_LE_SET_ADVERTISING_DATA;
    rq.cparam = &cp; rq.clen = LE_SET_ADVERTISING_DATA_CP_SIZE;
    rq.rparam = status; rq.rlen = 1;
    return hci_send_req(dd, &rq, 1000);
}

static inline int warden_bt_le_adv_enable(int dd, uint8_t enable, uint8_t *status) {
    le_set_advertise_enable_cp cp;
    memset(&cp, 0, sizeof(cp));
    cp.enable = enable;
    struct hci_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.ogf = OGF_LE_CTL; rq.ocf = OCF_LE_SET_ADVERTISE_ENABLE;
    rq.cparam = &cp; rq.clen = LE_SET_ADVERTISE_ENABLE_CP_SIZE;
    rq.rparam = status; rq.rlen = 1;
    return hci_send_req(dd, &rq, 1000);
}
#endif
