package manualprovider

import "golang.org/x/sys/unix"

// ioctlGetTermios is the ioctl request that reads terminal settings.
const ioctlGetTermios = unix.TCGETS
