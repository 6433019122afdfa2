/*
 * Warden: one small C API over both libgpiod APIs.
 *
 * The API is chosen at compile time from the gpiod.h that pkg-config points at:
 *   - libgpiod v1 (1.6.x: Debian 12, Raspberry Pi OS bookworm): gpiod.h defines
 *     GPIOD_LINE_BULK_MAX_LINES (the line_bulk API was removed in v2).
 *   - libgpiod v2 (2.x: Debian 13, current Raspberry Pi OS): it does not.
 * WARDEN_GPIOD_API is 1 or 2 accordingly.
 *
 * Everything is static inline: a SwiftPM system-library target cannot carry .c files.
 *
 * Conventions
 *   - Every call returns -1 or NULL on failure with errno set; on success errno is unspecified.
 *   - Values are logical: with active_low the wire level is inverted by the kernel, for outputs,
 *     get_value and edge events alike.
 *   - warden_gpio_chip and warden_gpio_line are opaque (OpaquePointer in Swift). Each handle is
 *     owned by its caller and freed exactly once (chip_close / release), in any order: a chip
 *     closed while lines are still requested stays open underneath until the last line is
 *     released. After close/release the handle must not be used again.
 *   - Handles are not safe for concurrent use from several threads; reference counting between a
 *     chip and its lines is atomic, so different handles may live on different threads.
 *   - No call blocks waiting for a GPIO event: the event fd is O_NONBLOCK and
 *     warden_gpio_read_event fails with EAGAIN when nothing is pending. The other calls are
 *     short ioctls/opens.
 */
#ifndef WARDEN_CGPIOD_SHIM_H
#define WARDEN_CGPIOD_SHIM_H

#include <gpiod.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifdef GPIOD_LINE_BULK_MAX_LINES
#define WARDEN_GPIOD_API 1
#else
#define WARDEN_GPIOD_API 2
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- public API */

typedef struct warden_gpio_chip warden_gpio_chip; /* opaque */
typedef struct warden_gpio_line warden_gpio_line; /* opaque */

enum {
    WARDEN_GPIO_BIAS_AS_IS = 0,
    WARDEN_GPIO_BIAS_DISABLED = 1,
    WARDEN_GPIO_BIAS_PULL_UP = 2,
    WARDEN_GPIO_BIAS_PULL_DOWN = 3
};

static inline int warden_gpio_api_version(void);
static inline const char *warden_gpio_library_version(void);
static inline warden_gpio_chip *warden_gpio_chip_open(const char *name_path_or_label);
static inline void warden_gpio_chip_close(warden_gpio_chip *chip);
static inline const char *warden_gpio_chip_name(warden_gpio_chip *chip);
static inline const char *warden_gpio_chip_label(warden_gpio_chip *chip);
static inline int warden_gpio_chip_num_lines(warden_gpio_chip *chip);
static inline warden_gpio_line *warden_gpio_request_output(warden_gpio_chip *chip, unsigned offset,
                                                           const char *consumer, int active_low,
                                                           int initial_value);
static inline warden_gpio_line *warden_gpio_request_input(warden_gpio_chip *chip, unsigned offset,
                                                          const char *consumer, int active_low,
                                                          int bias);
static inline int warden_gpio_set_value(warden_gpio_line *line, int value);
static inline int warden_gpio_get_value(warden_gpio_line *line);
static inline int warden_gpio_event_fd(warden_gpio_line *line);
static inline int warden_gpio_read_event(warden_gpio_line *line, int *rising,
                                         unsigned long long *timestamp_ns);
static inline void warden_gpio_release(warden_gpio_line *line);

/* ---------------------------------------------------------------- implementation */

/* The real layouts live in differently named structs so that the public types stay incomplete
   (and import into Swift as OpaquePointer). Not part of the API. */
struct warden_gpio__chip_state {
    struct gpiod_chip *chip;
#if WARDEN_GPIOD_API == 2
    struct gpiod_chip_info *info;
#endif
    int refs; /* 1 for the caller's handle until chip_close, +1 per requested line */
};

struct warden_gpio__line_state {
    struct warden_gpio__chip_state *owner;
    unsigned offset;
    int is_input;
#if WARDEN_GPIOD_API == 1
    struct gpiod_line *line; /* owned by the v1 chip, freed by gpiod_chip_close */
#else
    struct gpiod_line_request *request;
    struct gpiod_edge_event_buffer *events;
#endif
};

static inline struct warden_gpio__chip_state *warden_gpio__chip(warden_gpio_chip *chip) {
    return (struct warden_gpio__chip_state *)(void *)chip;
}

static inline struct warden_gpio__line_state *warden_gpio__line(warden_gpio_line *line) {
    return (struct warden_gpio__line_state *)(void *)line;
}

static inline void warden_gpio__chip_unref(struct warden_gpio__chip_state *c) {
    if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    int saved = errno;
#if WARDEN_GPIOD_API == 2
    gpiod_chip_info_free(c->info);
#endif
    gpiod_chip_close(c->chip);
    free(c);
    errno = saved;
}

static inline int warden_gpio_api_version(void) { return WARDEN_GPIOD_API; }

static inline const char *warden_gpio_library_version(void) {
#if WARDEN_GPIOD_API == 1
    return gpiod_version_string();
#else
    return gpiod_api_version();
#endif
}

/* Opens one chip device by path. NULL + errno (ENOENT, EACCES, ENOTTY/ENODEV when not a GPIO
   chip device, ...). */
static inline struct warden_gpio__chip_state *warden_gpio__open_path(const char *path) {
    struct warden_gpio__chip_state *c = (struct warden_gpio__chip_state *)calloc(1, sizeof(*c));
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->chip = gpiod_chip_open(path);
    if (!c->chip) {
        int saved = errno;
        free(c);
        errno = saved ? saved : ENODEV;
        return NULL;
    }
#if WARDEN_GPIOD_API == 2
    c->info = gpiod_chip_get_info(c->chip);
    if (!c->info) {
        int saved = errno;
        gpiod_chip_close(c->chip);
        free(c);
        errno = saved ? saved : EIO;
        return NULL;
    }
#endif
    c->refs = 1;
    return c;
}

#define WARDEN_GPIO__PATH_SIZE 4096

static inline warden_gpio_chip *warden_gpio_chip_open(const char *what) {
    char path[WARDEN_GPIO__PATH_SIZE];
    char found_name[256];
    struct stat st;
    struct dirent *entry;
    struct warden_gpio__chip_state *found = NULL;
    const char *digits;
    DIR *dev;
    int n, open_error = 0;

    if (!what || !*what) {
        errno = EINVAL;
        return NULL;
    }

    /* 1. A path: used as is. */
    if (strchr(what, '/'))
        return (warden_gpio_chip *)(void *)warden_gpio__open_path(what);

    /* 2. A chip name (gpiochip0) or number (0): /dev/gpiochipN, if that exists. */
    for (digits = what; *digits >= '0' && *digits <= '9'; digits++) {
    }
    n = (*digits == '\0') ? snprintf(path, sizeof(path), "/dev/gpiochip%s", what)
                          : snprintf(path, sizeof(path), "/dev/%s", what);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    if (stat(path, &st) == 0)
        return (warden_gpio_chip *)(void *)warden_gpio__open_path(path);

    /* 3. A label (pinctrl-bcm2711, pinctrl-rp1): scan /dev/gpiochip*. v2 has no lookup helper;
          v1's is not used either so that both behave the same. Should several chips carry the
          label, the one whose device name sorts first wins. */
    dev = opendir("/dev");
    if (!dev)
        return NULL;
    while ((entry = readdir(dev)) != NULL) {
        struct warden_gpio__chip_state *c;
        const char *label;
        if (strncmp(entry->d_name, "gpiochip", 8) != 0)
            continue;
        if (found && strcmp(entry->d_name, found_name) >= 0)
            continue;
        n = snprintf(path, sizeof(path), "/dev/%s", entry->d_name);
        if (n < 0 || (size_t)n >= sizeof(path) || strlen(entry->d_name) >= sizeof(found_name))
            continue;
        c = warden_gpio__open_path(path);
        if (!c) {
            if (!open_error && errno != ENOENT && errno != ENOTTY && errno != ENODEV)
                open_error = errno;
            continue;
        }
        label = warden_gpio_chip_label((warden_gpio_chip *)(void *)c);
        if (label && strcmp(label, what) == 0) {
            if (found)
                warden_gpio__chip_unref(found);
            found = c;
            strcpy(found_name, entry->d_name);
        } else {
            warden_gpio__chip_unref(c);
        }
    }
    closedir(dev);
    if (!found) {
        /* Nothing matched. When some chip could not be opened (typically EACCES: not in the
           gpio group), say so, since the label may well be on that chip. */
        errno = open_error ? open_error : ENOENT;
        return NULL;
    }
    return (warden_gpio_chip *)(void *)found;
}

static inline void warden_gpio_chip_close(warden_gpio_chip *chip) {
    if (chip)
        warden_gpio__chip_unref(warden_gpio__chip(chip));
}

static inline const char *warden_gpio_chip_name(warden_gpio_chip *chip) {
    if (!chip) {
        errno = EINVAL;
        return NULL;
    }
#if WARDEN_GPIOD_API == 1
    return gpiod_chip_name(warden_gpio__chip(chip)->chip);
#else
    return gpiod_chip_info_get_name(warden_gpio__chip(chip)->info);
#endif
}

static inline const char *warden_gpio_chip_label(warden_gpio_chip *chip) {
    if (!chip) {
        errno = EINVAL;
        return NULL;
    }
#if WARDEN_GPIOD_API == 1
    return gpiod_chip_label(warden_gpio__chip(chip)->chip);
#else
    return gpiod_chip_info_get_label(warden_gpio__chip(chip)->info);
#endif
}

static inline int warden_gpio_chip_num_lines(warden_gpio_chip *chip) {
    if (!chip) {
        errno = EINVAL;
        return -1;
    }
#if WARDEN_GPIOD_API == 1
    return (int)gpiod_chip_num_lines(warden_gpio__chip(chip)->chip);
#else
    return (int)gpiod_chip_info_get_num_lines(warden_gpio__chip(chip)->info);
#endif
}

/* Backend part of a request: fills l->line (v1) or l->request/l->events (v2) and makes the event
   fd non-blocking for inputs. 0, or -1 + errno with nothing left requested. */
static inline int warden_gpio__backend_request(struct warden_gpio__chip_state *c,
                                               struct warden_gpio__line_state *l,
                                               const char *consumer, int active_low,
                                               int value_or_bias) {
    int saved, fd, fl;
#if WARDEN_GPIOD_API == 1
    int flags = active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    int rv;
    l->line = gpiod_chip_get_line(c->chip, l->offset);
    if (!l->line)
        return -1;
    if (l->is_input) {
        switch (value_or_bias) {
        case WARDEN_GPIO_BIAS_DISABLED: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE; break;
        case WARDEN_GPIO_BIAS_PULL_UP: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP; break;
        case WARDEN_GPIO_BIAS_PULL_DOWN: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN; break;
        default: break;
        }
        rv = gpiod_line_request_both_edges_events_flags(l->line, consumer, flags);
    } else {
        rv = gpiod_line_request_output_flags(l->line, consumer, flags, value_or_bias ? 1 : 0);
    }
    if (rv < 0)
        return -1;
    if (l->is_input) {
        fd = gpiod_line_event_get_fd(l->line);
        fl = fd < 0 ? -1 : fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
            saved = errno;
            gpiod_line_release(l->line);
            errno = saved;
            return -1;
        }
    }
    return 0;
#else
    struct gpiod_line_settings *settings = gpiod_line_settings_new();
    struct gpiod_line_config *line_cfg = gpiod_line_config_new();
    struct gpiod_request_config *req_cfg = gpiod_request_config_new();
    enum gpiod_line_bias bias = GPIOD_LINE_BIAS_AS_IS;
    unsigned int offsets[1];
    int ok = settings && line_cfg && req_cfg;

    offsets[0] = l->offset;
    if (!ok)
        errno = ENOMEM;
    if (ok && l->is_input) {
        switch (value_or_bias) {
        case WARDEN_GPIO_BIAS_DISABLED: bias = GPIOD_LINE_BIAS_DISABLED; break;
        case WARDEN_GPIO_BIAS_PULL_UP: bias = GPIOD_LINE_BIAS_PULL_UP; break;
        case WARDEN_GPIO_BIAS_PULL_DOWN: bias = GPIOD_LINE_BIAS_PULL_DOWN; break;
        default: break;
        }
        ok = gpiod_line_settings_set_direction(settings, GPIOD_LINE_DIRECTION_INPUT) == 0 &&
             gpiod_line_settings_set_edge_detection(settings, GPIOD_LINE_EDGE_BOTH) == 0 &&
             gpiod_line_settings_set_bias(settings, bias) == 0 &&
             gpiod_line_settings_set_event_clock(settings, GPIOD_LINE_CLOCK_MONOTONIC) == 0;
    } else if (ok) {
        ok = gpiod_line_settings_set_direction(settings, GPIOD_LINE_DIRECTION_OUTPUT) == 0 &&
             gpiod_line_settings_set_output_value(settings, value_or_bias
                                                                ? GPIOD_LINE_VALUE_ACTIVE
                                                                : GPIOD_LINE_VALUE_INACTIVE) == 0;
    }
    if (ok) {
        gpiod_line_settings_set_active_low(settings, active_low ? true : false);
        ok = gpiod_line_config_add_line_settings(line_cfg, offsets, 1, settings) == 0;
    }
    if (ok) {
        if (consumer)
            gpiod_request_config_set_consumer(req_cfg, consumer);
        l->request = gpiod_chip_request_lines(c->chip, req_cfg, line_cfg);
        ok = l->request != NULL;
    }
    if (ok && l->is_input) {
        l->events = gpiod_edge_event_buffer_new(1);
        ok = l->events != NULL;
        if (!ok)
            errno = ENOMEM;
    }
    if (ok && l->is_input) {
        fd = gpiod_line_request_get_fd(l->request);
        fl = fd < 0 ? -1 : fcntl(fd, F_GETFL);
        ok = fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
    }
    saved = errno;
    gpiod_request_config_free(req_cfg);
    gpiod_line_config_free(line_cfg);
    gpiod_line_settings_free(settings);
    if (!ok) {
        if (l->events)
            gpiod_edge_event_buffer_free(l->events);
        if (l->request)
            gpiod_line_request_release(l->request);
        l->events = NULL;
        l->request = NULL;
    }
    errno = saved;
    return ok ? 0 : -1;
#endif
}

/* Common request path. value_or_bias: the initial value for outputs, the bias for inputs. */
static inline warden_gpio_line *warden_gpio__request(warden_gpio_chip *chip, unsigned offset,
                                                     const char *consumer, int active_low,
                                                     int is_input, int value_or_bias) {
    struct warden_gpio__chip_state *c;
    struct warden_gpio__line_state *l;
    int num_lines, saved;

    if (!chip) {
        errno = EINVAL;
        return NULL;
    }
    if (is_input && (value_or_bias < WARDEN_GPIO_BIAS_AS_IS ||
                     value_or_bias > WARDEN_GPIO_BIAS_PULL_DOWN)) {
        errno = EINVAL;
        return NULL;
    }
    c = warden_gpio__chip(chip);
    num_lines = warden_gpio_chip_num_lines(chip);
    if (num_lines >= 0 && offset >= (unsigned)num_lines) {
        errno = EINVAL;
        return NULL;
    }
    l = (struct warden_gpio__line_state *)calloc(1, sizeof(*l));
    if (!l) {
        errno = ENOMEM;
        return NULL;
    }
    l->offset = offset;
    l->is_input = is_input;
    errno = 0;
    if (warden_gpio__backend_request(c, l, consumer, active_low, value_or_bias) < 0) {
        saved = errno ? errno : EIO;
        free(l);
        errno = saved;
        return NULL;
    }
    __atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
    l->owner = c;
    return (warden_gpio_line *)(void *)l;
}

static inline warden_gpio_line *warden_gpio_request_output(warden_gpio_chip *chip, unsigned offset,
                                                           const char *consumer, int active_low,
                                                           int initial_value) {
    return warden_gpio__request(chip, offset, consumer, active_low, 0, initial_value ? 1 : 0);
}

static inline warden_gpio_line *warden_gpio_request_input(warden_gpio_chip *chip, unsigned offset,
                                                          const char *consumer, int active_low,
                                                          int bias) {
    return warden_gpio__request(chip, offset, consumer, active_low, 1, bias);
}

static inline int warden_gpio_set_value(warden_gpio_line *line, int value) {
    if (!line) {
        errno = EINVAL;
        return -1;
    }
    struct warden_gpio__line_state *l = warden_gpio__line(line);
    if (l->is_input) {
        errno = EPERM;
        return -1;
    }
#if WARDEN_GPIOD_API == 1
    return gpiod_line_set_value(l->line, value ? 1 : 0) < 0 ? -1 : 0;
#else
    return gpiod_line_request_set_value(l->request, l->offset,
                                        value ? GPIOD_LINE_VALUE_ACTIVE
                                              : GPIOD_LINE_VALUE_INACTIVE) < 0
               ? -1
               : 0;
#endif
}

static inline int warden_gpio_get_value(warden_gpio_line *line) {
    if (!line) {
        errno = EINVAL;
        return -1;
    }
    struct warden_gpio__line_state *l = warden_gpio__line(line);
#if WARDEN_GPIOD_API == 1
    int v = gpiod_line_get_value(l->line);
#else
    int v = (int)gpiod_line_request_get_value(l->request, l->offset);
#endif
    if (v < 0)
        return -1;
    return v ? 1 : 0;
}

static inline int warden_gpio_event_fd(warden_gpio_line *line) {
    if (!line) {
        errno = EINVAL;
        return -1;
    }
    struct warden_gpio__line_state *l = warden_gpio__line(line);
    if (!l->is_input) {
        errno = EPERM;
        return -1;
    }
#if WARDEN_GPIOD_API == 1
    return gpiod_line_event_get_fd(l->line);
#else
    return gpiod_line_request_get_fd(l->request);
#endif
}

static inline int warden_gpio_read_event(warden_gpio_line *line, int *rising,
                                         unsigned long long *timestamp_ns) {
    if (!line) {
        errno = EINVAL;
        return -1;
    }
    struct warden_gpio__line_state *l = warden_gpio__line(line);
    if (!l->is_input) {
        errno = EPERM;
        return -1;
    }
#if WARDEN_GPIOD_API == 1
    struct gpiod_line_event ev;
    if (gpiod_line_event_read(l->line, &ev) < 0)
        return -1;
    if (rising)
        *rising = ev.event_type == GPIOD_LINE_EVENT_RISING_EDGE;
    if (timestamp_ns)
        *timestamp_ns = (unsigned long long)ev.ts.tv_sec * 1000000000ULL +
                        (unsigned long long)ev.ts.tv_nsec;
#else
    int n = gpiod_line_request_read_edge_events(l->request, l->events, 1);
    if (n < 0)
        return -1;
    struct gpiod_edge_event *ev = n > 0 ? gpiod_edge_event_buffer_get_event(l->events, 0) : NULL;
    if (!ev) {
        errno = EAGAIN;
        return -1;
    }
    if (rising)
        *rising = gpiod_edge_event_get_event_type(ev) == GPIOD_EDGE_EVENT_RISING_EDGE;
    if (timestamp_ns)
        *timestamp_ns = (unsigned long long)gpiod_edge_event_get_timestamp_ns(ev);
#endif
    return 0;
}

static inline void warden_gpio_release(warden_gpio_line *line) {
    if (!line)
        return;
    struct warden_gpio__line_state *l = warden_gpio__line(line);
    int saved = errno;
#if WARDEN_GPIOD_API == 1
    gpiod_line_release(l->line);
#else
    if (l->events)
        gpiod_edge_event_buffer_free(l->events);
    gpiod_line_request_release(l->request);
#endif
    struct warden_gpio__chip_state *owner = l->owner;
    free(l);
    warden_gpio__chip_unref(owner);
    errno = saved;
}

#ifdef __cplusplus
}
#endif

#endif /* WARDEN_CGPIOD_SHIM_H */
