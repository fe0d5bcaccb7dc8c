#ifndef CEVENTPOLL_SHIM_H
#define CEVENTPOLL_SHIM_H
// epoll(7) for Swift: the Glibc module does not export it, and `struct epoll_event` is packed on x86-64, so
// events cross the boundary as plain (token, mask) arrays.
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static const uint32_t CEP_IN = EPOLLIN;
static const uint32_t CEP_OUT = EPOLLOUT;
static const uint32_t CEP_ERR = EPOLLERR;
static const uint32_t CEP_HUP = EPOLLHUP;
static const uint32_t CEP_RDHUP = EPOLLRDHUP;
static const uint32_t CEP_ET = EPOLLET;

static inline int cep_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

/// Adds `fd` with `events`, tagged with `token`.
static inline int cep_add(int epfd, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = token;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static inline int cep_remove(int epfd, int fd) {
    struct epoll_event ev = {0};
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);
}

/// Waits up to `timeout` ms (0: never blocks) for at most `max` (<= 256) events; copies tokens and masks out.
static inline int cep_wait(int epfd, uint64_t *tokens, uint32_t *masks, int max, int timeout) {
    struct epoll_event events[256];
    if (max > 256) max = 256;
    int n;
    do {
#ifdef SYS_epoll_wait
        n = (int)syscall(SYS_epoll_wait, epfd, events, max, timeout);
#else  // aarch64 has only epoll_pwait; a null mask makes it epoll_wait
        n = (int)syscall(SYS_epoll_pwait, epfd, events, max, timeout, NULL, (size_t)8);
#endif
    } while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; i++) {
        tokens[i] = events[i].data.u64;
        masks[i] = events[i].events;
    }
    return n;
}

// recv(2), send(2) and epoll_wait(2) as plain system calls. glibc's wrappers are thread cancellation points:
// they switch asynchronous cancellation on and off around every call, which costs more than a short send on
// loopback saves. The gateway never cancels threads. Same results and errno as the wrappers.
static inline ssize_t cep_recv(int fd, void *buffer, size_t length, int flags) {
    return syscall(SYS_recvfrom, fd, buffer, length, flags, NULL, NULL);
}

static inline ssize_t cep_send(int fd, const void *buffer, size_t length, int flags) {
    return syscall(SYS_sendto, fd, buffer, length, flags, NULL, 0);
}

/// The processors this process may run on (sched_getaffinity(2): a container's cpuset or `taskset` narrow it),
/// or 0 when that cannot be read. glibc declares sched_getaffinity only under _GNU_SOURCE, which an imported header
/// cannot count on: it is declared here under another name, bound to the same symbol.
extern int cep_sched_getaffinity(int pid, size_t size, void *mask) __asm__("sched_getaffinity");
static inline int cep_usable_processors(void) {
    unsigned long mask[16] = {0};  // 1024 processors
    if (cep_sched_getaffinity(0, sizeof(mask), mask) != 0) return 0;
    int count = 0;
    for (int i = 0; i < 16; i++) count += __builtin_popcountl(mask[i]);
    return count;
}

#endif
