#ifndef WARDEN_CBLUETOOTH_SHIM_H
#define WARDEN_CBLUETOOTH_SHIM_H
#include <sys/socket.h>
#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>
#include <bluetooth/hci_lib.h>
#include <bluetooth/l2cap.h>

/* Macros and struct initialisers Swift cannot import directly. */
static inline int warden_bt_af_bluetooth(void) { return AF_BLUETOOTH; }
static inline int warden_bt_proto_l2cap(void) { return BTPROTO_L2CAP; }
static inline unsigned char warden_bt_bdaddr_le_public(void) { return BDADDR_LE_PUBLIC; }
static inline unsigned char warden_bt_bdaddr_le_random(void) { return BDADDR_LE_RANDOM; }
static inline int warden_bt_sol_bluetooth(void) { return SOL_BLUETOOTH; }
static inline int warden_bt_security_opt(void) { return BT_SECURITY; }
static inline int warden_bt_rcvmtu_opt(void) { return BT_RCVMTU; }
#endif
