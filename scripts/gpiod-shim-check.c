/*
 * Compile-and-run check of Sources/CGPIOD/shim.h against whichever libgpiod pkg-config finds.
 *
 *   v1 (system):  gcc -std=gnu11 -Wall -Wextra -Werror -DEXPECT_API=1 -ISources/CGPIOD \
 *                   scripts/gpiod-shim-check.c $(pkg-config --cflags --libs libgpiod) -o /tmp/shim-v1
 *   v2:           scripts/build-libgpiod-v2 /tmp/warden-deps/libgpiod-v2
 *                 export PKG_CONFIG_PATH=/tmp/warden-deps/libgpiod-v2/lib/pkgconfig
 *                 gcc ... -DEXPECT_API=2 ... $(pkg-config --cflags --libs libgpiod) \
 *                   -Wl,-rpath,$(pkg-config --variable=libdir libgpiod) -o /tmp/shim-v2
 *
 * Without arguments it checks the error paths, which need no GPIO hardware. On a board,
 * `shim-check CHIP [OFFSET]` also opens CHIP, prints its name/label/line count and, given an
 * OFFSET, requests that line as an input (bias as-is, never an output: safe on a wired relay),
 * prints its value and waits up to 5 s for one edge event.
 */
#include "shim.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#ifndef EXPECT_API
#error "compile with -DEXPECT_API=1 or -DEXPECT_API=2"
#endif
#if WARDEN_GPIOD_API != EXPECT_API
#error "shim.h detected a different libgpiod API than expected"
#endif

static int failures;

static void check(int ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

static void expect_open_fails(const char *arg, int want_errno) {
    char what[256];
    errno = 0;
    warden_gpio_chip *chip = warden_gpio_chip_open(arg);
    int err = errno;
    snprintf(what, sizeof(what), "chip_open(\"%s\") -> %s, errno %d (%s), want %s", arg ? arg : "NULL",
             chip ? "chip" : "NULL", err, strerror(err), want_errno ? strerror(want_errno) : "any error");
    check(chip == NULL && (want_errno == 0 ? err != 0 : err == want_errno), what);
    if (chip)
        warden_gpio_chip_close(chip);
}

static int hardware(const char *chip_arg, const char *offset_arg) {
    warden_gpio_chip *chip = warden_gpio_chip_open(chip_arg);
    if (!chip) {
        printf("chip_open(\"%s\"): %s\n", chip_arg, strerror(errno));
        return 1;
    }
    printf("chip %s label %s lines %d\n", warden_gpio_chip_name(chip), warden_gpio_chip_label(chip),
           warden_gpio_chip_num_lines(chip));
    if (offset_arg) {
        unsigned offset = (unsigned)strtoul(offset_arg, NULL, 10);
        warden_gpio_line *line =
            warden_gpio_request_input(chip, offset, "warden-shim-check", 0, WARDEN_GPIO_BIAS_AS_IS);
        /* Close the chip first on purpose: the line must keep working until it is released. */
        warden_gpio_chip_close(chip);
        if (!line) {
            printf("request_input(%u): %s\n", offset, strerror(errno));
            return 1;
        }
        int rising = 0;
        unsigned long long ts = 0;
        errno = 0;
        int rv = warden_gpio_read_event(line, &rising, &ts);
        printf("value %d; read_event with nothing pending -> %d (%s)\n", warden_gpio_get_value(line), rv,
               strerror(errno));
        errno = 0;
        printf("set_value on an input -> %d (%s)\n", warden_gpio_set_value(line, 1), strerror(errno));
        struct pollfd pfd = {.fd = warden_gpio_event_fd(line), .events = POLLIN};
        printf("waiting 5 s for an edge on line %u...\n", offset);
        if (poll(&pfd, 1, 5000) > 0 && warden_gpio_read_event(line, &rising, &ts) == 0)
            printf("edge: %s at %llu ns\n", rising ? "rising (active)" : "falling (inactive)", ts);
        else
            printf("no edge\n");
        warden_gpio_release(line);
    } else {
        warden_gpio_chip_close(chip);
    }
    return 0;
}

int main(int argc, char **argv) {
    printf("WARDEN_GPIOD_API %d, warden_gpio_api_version() %d, libgpiod %s\n", WARDEN_GPIOD_API,
           warden_gpio_api_version(), warden_gpio_library_version());
    check(warden_gpio_api_version() == EXPECT_API, "api version matches the header");
    check(warden_gpio_library_version() != NULL &&
              warden_gpio_library_version()[0] == (char)('0' + EXPECT_API),
          "library version string starts with the API major");

    if (argc > 1)
        return hardware(argv[1], argc > 2 ? argv[2] : NULL);

    expect_open_fails("gpiochip-does-not-exist", ENOENT); /* name, then label scan */
    expect_open_fails("pinctrl-bcm2711", ENOENT);         /* label only */
    expect_open_fails("/dev/gpiochip-does-not-exist", ENOENT);
    expect_open_fails("99", ENOENT);                      /* number -> /dev/gpiochip99 */
    expect_open_fails("", EINVAL);
    expect_open_fails(NULL, EINVAL);
    expect_open_fails("/dev/null", 0); /* a character device, but not a GPIO chip */

    errno = 0;
    check(warden_gpio_chip_num_lines(NULL) == -1 && errno == EINVAL, "chip_num_lines(NULL) -> -1 EINVAL");
    errno = 0;
    check(warden_gpio_chip_name(NULL) == NULL && errno == EINVAL, "chip_name(NULL) -> NULL EINVAL");
    errno = 0;
    check(warden_gpio_request_output(NULL, 0, "x", 0, 0) == NULL && errno == EINVAL,
          "request_output(NULL chip) -> NULL EINVAL");
    errno = 0;
    check(warden_gpio_request_input(NULL, 0, "x", 0, WARDEN_GPIO_BIAS_PULL_UP) == NULL && errno == EINVAL,
          "request_input(NULL chip) -> NULL EINVAL");
    errno = 0;
    check(warden_gpio_set_value(NULL, 1) == -1 && errno == EINVAL, "set_value(NULL) -> -1 EINVAL");
    errno = 0;
    check(warden_gpio_get_value(NULL) == -1 && errno == EINVAL, "get_value(NULL) -> -1 EINVAL");
    errno = 0;
    check(warden_gpio_event_fd(NULL) == -1 && errno == EINVAL, "event_fd(NULL) -> -1 EINVAL");
    errno = 0;
    check(warden_gpio_read_event(NULL, NULL, NULL) == -1 && errno == EINVAL, "read_event(NULL) -> -1 EINVAL");
    warden_gpio_release(NULL);
    warden_gpio_chip_close(NULL);
    check(1, "release(NULL), chip_close(NULL) are no-ops");

    printf("%s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
