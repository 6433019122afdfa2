// Header-only: see include/CEpoll.h.
