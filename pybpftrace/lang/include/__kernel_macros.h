/* Well-known Linux kernel macros, for scripts that include kernel headers
 * on a machine without them (x86_64).
 *
 * With BTF, kernel *types* need no headers, but macros such as AF_INET are
 * not in BTF.  pybpftrace includes this file (once) in place of every
 * `#include <...>` it cannot find; a header that is found defines its own
 * macros and those win.  Values are the kernel's (not glibc's: O_LARGEFILE
 * is 0100000 here, as the kernel sees it).  Plain integers only, so that
 * every macro is also valid BpfScript. */
#ifndef __PYBPFTRACE_KERNEL_MACROS_H
#define __PYBPFTRACE_KERNEL_MACROS_H

/* linux/socket.h: address and protocol families */
#define AF_UNSPEC       0
#define AF_UNIX         1
#define AF_LOCAL        1
#define AF_INET         2
#define AF_AX25         3
#define AF_IPX          4
#define AF_APPLETALK    5
#define AF_NETROM       6
#define AF_BRIDGE       7
#define AF_ATMPVC       8
#define AF_X25          9
#define AF_INET6        10
#define AF_ROSE         11
#define AF_DECnet       12
#define AF_NETBEUI      13
#define AF_SECURITY     14
#define AF_KEY          15
#define AF_NETLINK      16
#define AF_ROUTE        AF_NETLINK
#define AF_PACKET       17
#define AF_ASH          18
#define AF_ECONET       19
#define AF_ATMSVC       20
#define AF_RDS          21
#define AF_SNA          22
#define AF_IRDA         23
#define AF_PPPOX        24
#define AF_WANPIPE      25
#define AF_LLC          26
#define AF_IB           27
#define AF_MPLS         28
#define AF_CAN          29
#define AF_TIPC         30
#define AF_BLUETOOTH    31
#define AF_IUCV         32
#define AF_RXRPC        33
#define AF_ISDN         34
#define AF_PHONET       35
#define AF_IEEE802154   36
#define AF_CAIF         37
#define AF_ALG          38
#define AF_NFC          39
#define AF_VSOCK        40
#define AF_KCM          41
#define AF_QIPCRTR      42
#define AF_SMC          43
#define AF_XDP          44
#define AF_MCTP         45

#define PF_UNSPEC       AF_UNSPEC
#define PF_UNIX         AF_UNIX
#define PF_LOCAL        AF_LOCAL
#define PF_INET         AF_INET
#define PF_INET6        AF_INET6
#define PF_NETLINK      AF_NETLINK
#define PF_ROUTE        AF_ROUTE
#define PF_PACKET       AF_PACKET
#define PF_BLUETOOTH    AF_BLUETOOTH
#define PF_VSOCK        AF_VSOCK
#define PF_XDP          AF_XDP

/* linux/net.h: socket types */
#define SOCK_STREAM     1
#define SOCK_DGRAM      2
#define SOCK_RAW        3
#define SOCK_RDM        4
#define SOCK_SEQPACKET  5
#define SOCK_DCCP       6
#define SOCK_PACKET     10
#define SOCK_CLOEXEC    02000000
#define SOCK_NONBLOCK   04000

/* uapi/linux/in.h, in6.h: IP protocols */
#define IPPROTO_IP      0
#define IPPROTO_ICMP    1
#define IPPROTO_IGMP    2
#define IPPROTO_TCP     6
#define IPPROTO_UDP     17
#define IPPROTO_IPV6    41
#define IPPROTO_GRE     47
#define IPPROTO_ESP     50
#define IPPROTO_AH      51
#define IPPROTO_ICMPV6  58
#define IPPROTO_SCTP    132
#define IPPROTO_UDPLITE 136
#define IPPROTO_RAW     255
#define IPPROTO_MPTCP   262

/* net/tcp_states.h: sk->__sk_common.skc_state */
#define TCP_ESTABLISHED  1
#define TCP_SYN_SENT     2
#define TCP_SYN_RECV     3
#define TCP_FIN_WAIT1    4
#define TCP_FIN_WAIT2    5
#define TCP_TIME_WAIT    6
#define TCP_CLOSE        7
#define TCP_CLOSE_WAIT   8
#define TCP_LAST_ACK     9
#define TCP_LISTEN       10
#define TCP_CLOSING      11
#define TCP_NEW_SYN_RECV 12

/* uapi/linux/if_ether.h */
#define ETH_ALEN        6
#define ETH_HLEN        14
#define ETH_P_IP        0x0800
#define ETH_P_ARP       0x0806
#define ETH_P_8021Q     0x8100
#define ETH_P_IPV6      0x86DD

/* uapi/linux/if.h */
#define IFNAMSIZ        16

/* asm-generic/fcntl.h (x86_64): open(2) flags */
#define O_ACCMODE       00000003
#define O_RDONLY        00000000
#define O_WRONLY        00000001
#define O_RDWR          00000002
#define O_CREAT         00000100
#define O_EXCL          00000200
#define O_NOCTTY        00000400
#define O_TRUNC         00001000
#define O_APPEND        00002000
#define O_NONBLOCK      00004000
#define O_NDELAY        O_NONBLOCK
#define O_DSYNC         00010000
#define FASYNC          00020000
#define O_DIRECT        00040000
#define O_LARGEFILE     00100000
#define O_DIRECTORY     00200000
#define O_NOFOLLOW      00400000
#define O_NOATIME       01000000
#define O_CLOEXEC       02000000
#define __O_SYNC        04000000
#define O_SYNC          (__O_SYNC | O_DSYNC)
#define O_PATH          010000000
#define __O_TMPFILE     020000000
#define O_TMPFILE       (__O_TMPFILE | O_DIRECTORY)

/* uapi/linux/stat.h: file types in inode->i_mode */
#define S_IFMT          00170000
#define S_IFSOCK        0140000
#define S_IFLNK         0120000
#define S_IFREG         0100000
#define S_IFBLK         0060000
#define S_IFDIR         0040000
#define S_IFCHR         0020000
#define S_IFIFO         0010000

/* linux/sched.h: task->__state and task->exit_state */
#define TASK_RUNNING            0x00000000
#define TASK_INTERRUPTIBLE      0x00000001
#define TASK_UNINTERRUPTIBLE    0x00000002
#define __TASK_STOPPED          0x00000004
#define __TASK_TRACED           0x00000008
#define EXIT_DEAD               0x00000010
#define EXIT_ZOMBIE             0x00000020
#define EXIT_TRACE              (EXIT_ZOMBIE | EXIT_DEAD)
#define TASK_PARKED             0x00000040
#define TASK_DEAD               0x00000080
#define TASK_WAKEKILL           0x00000100
#define TASK_WAKING             0x00000200
#define TASK_NOLOAD             0x00000400
#define TASK_NEW                0x00000800
#define TASK_KILLABLE           (TASK_WAKEKILL | TASK_UNINTERRUPTIBLE)
#define TASK_STOPPED            (TASK_WAKEKILL | __TASK_STOPPED)
#define TASK_TRACED             __TASK_TRACED
#define TASK_IDLE               (TASK_UNINTERRUPTIBLE | TASK_NOLOAD)
#define TASK_NORMAL             (TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE)
#define TASK_COMM_LEN           16

/* linux/sched.h: task->flags */
#define PF_VCPU                 0x00000001
#define PF_IDLE                 0x00000002
#define PF_EXITING              0x00000004
#define PF_POSTCOREDUMP         0x00000008
#define PF_IO_WORKER            0x00000010
#define PF_WQ_WORKER            0x00000020
#define PF_FORKNOEXEC           0x00000040
#define PF_MCE_PROCESS          0x00000080
#define PF_SUPERPRIV            0x00000100
#define PF_DUMPCORE             0x00000200
#define PF_SIGNALED             0x00000400
#define PF_MEMALLOC             0x00000800
#define PF_NPROC_EXCEEDED       0x00001000
#define PF_USED_MATH            0x00002000
#define PF_USER_WORKER          0x00004000
#define PF_NOFREEZE             0x00008000
#define PF_KSWAPD               0x00020000
#define PF_MEMALLOC_NOFS        0x00040000
#define PF_MEMALLOC_NOIO        0x00080000
#define PF_LOCAL_THROTTLE       0x00100000
#define PF_KTHREAD              0x00200000
#define PF_RANDOMIZE            0x00400000
#define PF_NO_SETAFFINITY       0x04000000
#define PF_MCE_EARLY            0x08000000
#define PF_MEMALLOC_PIN         0x10000000

#endif
