// epoll for POSIXIO's IOReactor: Swift's Glibc module does not export <sys/epoll.h>.
#pragma once
#include <sys/epoll.h>

static inline int warden_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }
static inline unsigned int warden_epollin(void) { return EPOLLIN; }
static inline unsigned int warden_epollout(void) { return EPOLLOUT; }
static inline unsigned int warden_epollerr(void) { return EPOLLERR; }
static inline unsigned int warden_epollhup(void) { return EPOLLHUP; }
static inline unsigned int warden_epolloneshot(void) { return EPOLLONESHOT; }

/// epoll_ctl with the descriptor as the event's data (add = 1: EPOLL_CTL_ADD, 0: EPOLL_CTL_MOD, -1: EPOLL_CTL_DEL).
static inline int warden_epoll_ctl(int epfd, int op, int fd, unsigned int events) {
    struct epoll_event ev = { .events = events, .data = { .fd = fd } };
    int cop = op > 0 ? EPOLL_CTL_ADD : (op == 0 ? EPOLL_CTL_MOD : EPOLL_CTL_DEL);
    return epoll_ctl(epfd, cop, fd, &ev);
}

/// epoll_wait into parallel arrays (struct epoll_event is packed on x86-64; this keeps Swift away from its layout).
static inline int warden_epoll_wait(int epfd, int *fds, unsigned int *events, int capacity) {
    struct epoll_event evs[64];
    if (capacity > 64) capacity = 64;
    int n = epoll_wait(epfd, evs, capacity, -1);
    for (int i = 0; i < n; i++) { fds[i] = evs[i].data.fd; events[i] = evs[i].events; }
    return n;
}
