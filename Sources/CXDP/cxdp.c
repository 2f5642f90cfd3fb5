#define _GNU_SOURCE
#include "cxdp.h"
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <xdp/libxdp.h>
#include <sys/ioctl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <dirent.h>
#include <sys/vfs.h>
#include <errno.h>
#include <stdatomic.h>

// Set by any thread that loads or attaches (setup code runs on several threads).
static _Atomic bool cxdp_quiet = false;
static __thread char cxdp_last_message[512];

static int cxdp_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args) {
    if (level == LIBBPF_DEBUG) return 0;
    va_list copy;
    va_copy(copy, args);
    vsnprintf(cxdp_last_message, sizeof cxdp_last_message, fmt, copy);
    va_end(copy);
    size_t n = strlen(cxdp_last_message);
    while (n > 0 && cxdp_last_message[n - 1] == '\n') cxdp_last_message[--n] = 0;
    if (cxdp_quiet) return 0;
    return vfprintf(stderr, fmt, args);
}

static int cxdp_libxdp_print(enum libxdp_print_level level, const char *fmt, va_list args) {
    if (level == LIBXDP_DEBUG) return 0;
    return cxdp_libbpf_print(level == LIBXDP_WARN ? LIBBPF_WARN : LIBBPF_INFO, fmt, args);
}

void cxdp_set_library_logging(bool quiet) {
    cxdp_quiet = quiet;
    libbpf_set_print(cxdp_libbpf_print);
    libxdp_set_print(cxdp_libxdp_print);
}

const char *cxdp_last_library_message(void) { return cxdp_last_message; }

int cxdp_set_thread_fifo(unsigned long thread, int priority) {
    struct sched_param param;
    memset(&param, 0, sizeof param);
    param.sched_priority = priority;
    return pthread_setschedparam((pthread_t)thread, SCHED_FIFO, &param);
}

int cxdp_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

int cxdp_current_cpu(void) { return sched_getcpu(); }

int cxdp_allowed_cpus(int *cpus, int capacity) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -errno;
    int count = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && count < capacity; cpu++)
        if (CPU_ISSET(cpu, &set)) cpus[count++] = cpu;
    return count;
}

int cxdp_enter_network_namespace(int fd) {
    return setns(fd, CLONE_NEWNET) == 0 ? 0 : -errno;
}


uint64_t cxdp_memlock_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0) return 0;
    return limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)limit.rlim_cur;
}

static int cxdp_capget(struct __user_cap_data_struct data[2]) {
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    return syscall(SYS_capget, &header, data) == 0 ? 0 : -errno;
}

static int cxdp_capset(struct __user_cap_data_struct data[2]) {
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    return syscall(SYS_capset, &header, data) == 0 ? 0 : -errno;
}

int cxdp_drop_effective_capabilities(uint64_t mask) {
    struct __user_cap_data_struct data[2];
    int rc = cxdp_capget(data);
    if (rc) return rc;
    data[0].effective &= ~(uint32_t)mask;
    data[1].effective &= ~(uint32_t)(mask >> 32);
    return cxdp_capset(data);
}

int cxdp_restore_effective_capabilities(void) {
    struct __user_cap_data_struct data[2];
    int rc = cxdp_capget(data);
    if (rc) return rc;
    data[0].effective = data[0].permitted;
    data[1].effective = data[1].permitted;
    return cxdp_capset(data);
}

const char *cxdp_errno_name(int error) { return strerrorname_np(error); }


/* Keeps only `keep` (bit numbers as 1ull << CAP_x) in the calling thread's
 * permitted and effective sets, clears the inheritable and ambient sets,
 * shrinks the bounding set when CAP_SETPCAP allows, and sets no_new_privs.
 * Capabilities are per thread on Linux: the caller makes sure it is the
 * process's only thread (cxdp_thread_count) so the result holds for all. */
int cxdp_limit_capabilities(uint64_t keep) {
    struct __user_cap_data_struct data[2];
    int rc = cxdp_capget(data);
    if (rc) return rc;
    uint64_t effective = (uint64_t)data[0].effective | ((uint64_t)data[1].effective << 32);
    if (effective & (1ull << CAP_SETPCAP)) {
        for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
            if (!(keep & (1ull << cap)) && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1
                && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return -errno;
        }
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return -errno;
    for (int i = 0; i < 2; i++) {
        uint32_t kept = (uint32_t)(keep >> (32 * i));
        data[i].permitted &= kept;
        data[i].effective = data[i].permitted;
        data[i].inheritable = 0;
    }
    rc = cxdp_capset(data);
    if (rc) return rc;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
    return 0;
}

uint64_t cxdp_permitted_capabilities(void) {
    struct __user_cap_data_struct data[2];
    if (cxdp_capget(data)) return 0;
    return (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
}

int cxdp_thread_count(void) {
    DIR *tasks = opendir("/proc/self/task");
    if (!tasks) return -errno;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(tasks)) != NULL) if (entry->d_name[0] != '.') count++;
    closedir(tasks);
    return count;
}

int cxdp_set_memlock_limit(uint64_t bytes) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0) return -errno;
    limit.rlim_cur = bytes == UINT64_MAX ? RLIM_INFINITY : (rlim_t)bytes;
    return setrlimit(RLIMIT_MEMLOCK, &limit) == 0 ? 0 : -errno;
}

void cxdp_set_thread_name(const char *name) {
    char truncated[16];
    strncpy(truncated, name, sizeof truncated - 1);
    truncated[sizeof truncated - 1] = 0;
    pthread_setname_np(pthread_self(), truncated);
}


struct bpf_object *cxdp_open_object(const void *bytes, size_t size, const char *name) {
    LIBBPF_OPTS(bpf_object_open_opts, options, .object_name = name);
    struct bpf_object *object = bpf_object__open_mem(bytes, size, &options);
    if (libbpf_get_error(object)) { errno = -(int)libbpf_get_error(object); return NULL; }
    return object;
}

int cxdp_xdp_detach(int ifindex, uint32_t flags, int expected_prog_fd) {
    LIBBPF_OPTS(bpf_xdp_attach_opts, options, .old_prog_fd = expected_prog_fd);
    return bpf_xdp_detach(ifindex, flags, &options);
}

int cxdp_xdp_detach_id(int ifindex, uint32_t id) {
    LIBBPF_OPTS(bpf_xdp_query_opts, query);
    int rc = bpf_xdp_query(ifindex, 0, &query);
    if (rc) return rc;
    if (query.prog_id != id) return -ENOENT;
    uint32_t flags = query.attach_mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE
        : query.attach_mode == XDP_ATTACHED_DRV ? XDP_FLAGS_DRV_MODE
        : query.attach_mode == XDP_ATTACHED_HW ? XDP_FLAGS_HW_MODE : 0;
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) return -errno;
    rc = cxdp_xdp_detach(ifindex, flags, fd);
    close(fd);
    return rc;
}

int64_t cxdp_xdp_attached_id(int ifindex) {
    LIBBPF_OPTS(bpf_xdp_query_opts, query);
    int rc = bpf_xdp_query(ifindex, 0, &query);
    if (rc) return rc;
    return query.prog_id;
}

int cxdp_xdp_attached_mode(int ifindex) {
    LIBBPF_OPTS(bpf_xdp_query_opts, query);
    int rc = bpf_xdp_query(ifindex, 0, &query);
    if (rc) return rc;
    return query.attach_mode;
}

uint32_t cxdp_program_id(int prog_fd) {
    struct bpf_prog_info info;
    memset(&info, 0, sizeof info);
    __u32 length = sizeof info;
    return bpf_obj_get_info_by_fd(prog_fd, &info, &length) == 0 ? info.id : 0;
}

void cxdp_program_name(uint32_t id, char *out, size_t size) {
    if (!out || size == 0) return;
    out[0] = 0;
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) return;
    struct bpf_prog_info info;
    memset(&info, 0, sizeof info);
    __u32 length = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &length) == 0) {
        size_t n = strnlen(info.name, sizeof info.name);
        if (n >= size) n = size - 1;
        memcpy(out, info.name, n);
        out[n] = 0;
    }
    close(fd);
}

bool cxdp_program_is_named(uint32_t id, const char *name) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) return false;
    struct bpf_prog_info info;
    memset(&info, 0, sizeof info);
    __u32 length = sizeof info;
    bool same = bpf_obj_get_info_by_fd(fd, &info, &length) == 0 && strncmp(info.name, name, sizeof info.name) == 0;
    close(fd);
    return same;
}

int64_t cxdp_program_owner(uint32_t id) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) return -1;
    uint32_t map_ids[16];
    struct bpf_prog_info info;
    memset(&info, 0, sizeof info);
    info.nr_map_ids = 16;
    info.map_ids = (uint64_t)(unsigned long)map_ids;
    __u32 length = sizeof info;
    int64_t owner = -1;
    if (bpf_obj_get_info_by_fd(fd, &info, &length) == 0) {
        for (uint32_t i = 0; i < info.nr_map_ids && i < 16 && owner < 0; i++) {
            int map = bpf_map_get_fd_by_id(map_ids[i]);
            if (map < 0) continue;
            struct bpf_map_info map_info;
            memset(&map_info, 0, sizeof map_info);
            __u32 map_length = sizeof map_info;
            if (bpf_obj_get_info_by_fd(map, &map_info, &map_length) == 0 && strcmp(map_info.name, "owner") == 0
                && map_info.key_size == 4 && map_info.value_size == 4) {  // someone else's "owner" map may hold anything
                uint32_t key = 0, pid = 0;
                if (bpf_map_lookup_elem(map, &key, &pid) == 0) owner = pid;
            }
            close(map);
        }
    }
    close(fd);
    return owner;
}

int cxdp_program_map_value(uint32_t id, const char *name, uint32_t key, void *value, uint32_t value_size) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) return -errno;
    uint32_t map_ids[16];
    struct bpf_prog_info info;
    memset(&info, 0, sizeof info);
    info.nr_map_ids = 16;
    info.map_ids = (uint64_t)(unsigned long)map_ids;
    __u32 length = sizeof info;
    int rc = -ENOENT;
    if (bpf_obj_get_info_by_fd(fd, &info, &length) == 0) {
        for (uint32_t i = 0; i < info.nr_map_ids && i < 16 && rc == -ENOENT; i++) {
            int map = bpf_map_get_fd_by_id(map_ids[i]);
            if (map < 0) continue;
            struct bpf_map_info map_info;
            memset(&map_info, 0, sizeof map_info);
            __u32 map_length = sizeof map_info;
            if (bpf_obj_get_info_by_fd(map, &map_info, &map_length) == 0 && strcmp(map_info.name, name) == 0
                && map_info.key_size == 4 && map_info.value_size == value_size) {
                rc = bpf_map_lookup_elem(map, &key, value) == 0 ? 0 : -errno;
            }
            close(map);
        }
    }
    close(fd);
    return rc;
}

bool cxdp_is_bpffs(const char *path) {
    struct statfs info;
    return statfs(path, &info) == 0 && info.f_type == 0xCAFE4A11;
}

int cxdp_tc_attach_egress(int ifindex, int prog_fd) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
    int rc = bpf_tc_hook_create(&hook);
    if (rc && rc != -EEXIST) return rc;
    LIBBPF_OPTS(bpf_tc_opts, options, .prog_fd = prog_fd);
    return bpf_tc_attach(&hook, &options);
}
