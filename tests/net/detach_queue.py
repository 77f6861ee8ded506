#!/usr/bin/env python3
"""Detach one queue of a running reflector from its device, as any holder of
the queue's fd may: take a copy of the fd with pidfd_getfd(2) and call
TUNSETQUEUE with IFF_DETACH_QUEUE on it.  usage: detach_queue.py PID QUEUE

Queue i is the i-th tun fd of the process (tapreflect opens them in order)."""
import ctypes
import fcntl
import os
import struct
import sys

SYS_PIDFD_GETFD = 438
TUNSETQUEUE = 0x400454D9
IFF_DETACH_QUEUE = 0x0400


def main() -> int:
    pid, queue = int(sys.argv[1]), int(sys.argv[2])
    tun_fds = []
    for name in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            with open(f"/proc/{pid}/fdinfo/{name}") as f:
                if "iff:" in f.read():
                    tun_fds.append(int(name))
        except OSError:
            continue
    if queue >= len(tun_fds):
        print(f"process {pid} has {len(tun_fds)} tun fd(s), no queue {queue}", file=sys.stderr)
        return 1
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, tun_fds[queue], 0)
    if fd < 0:
        print(f"pidfd_getfd: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 1
    fcntl.ioctl(fd, TUNSETQUEUE, struct.pack("16sH", b"", IFF_DETACH_QUEUE))
    os.close(fd)
    os.close(pidfd)
    print(f"queue {queue} (fd {tun_fds[queue]} of process {pid}) detached")
    return 0


if __name__ == "__main__":
    sys.exit(main())
