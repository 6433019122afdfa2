#ifndef WARDEN_CBLUETOOTH_SHIM_H
#define WARDEN_CBLUETOOTH_SHIM_H
#include <sys/socket.h>
#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <bluetooth/hci_lib.h>
#include <bluetooth/l2cap.h>
#include <sys/eventfd.h>

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

/* Wakes threads blocked in poll() when a socket is closed from another thread. */
static inline int warden_bt_wake_fd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }
#endif
