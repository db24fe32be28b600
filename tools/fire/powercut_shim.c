/* The recorder of the power-cut fault (tools/fire/powercut.py, RELIABILITY.md): an
 * LD_PRELOAD library that logs every call a process makes that can change what a disk holds
 * under one directory tree (POWERCUT_ROOT), with the bytes written, to a binary file
 * (POWERCUT_LOG), in the order the calls took effect.
 *
 * Logged: open/openat/creat of a path under the root (with its flags and inode), write,
 * writev, pwrite, pwritev (offset and bytes), fsync, fdatasync, sync_file_range, ftruncate,
 * fallocate, rename(at)(2), link(at), unlink(at), mkdir(at), rmdir, symlink(at), sync, syncfs,
 * msync, mmap of a tracked descriptor with PROT_WRITE and MAP_SHARED (so that the model can
 * say which files it does not see written), and close.
 *
 * Order: every logged call runs under one process-wide mutex, the real call and its record
 * together, so the order of records is the order in which the calls took effect (calls on
 * other descriptors are not held). Each record carries CLOCK_REALTIME before and after the
 * call, which the harness compares with the moments its clients got their answers.
 *
 * Record layout (little-endian): u32 length of the rest, u32 op, u32 thread, i32 fd,
 * u64 start ns, u64 end ns, i64 result, i64 a, i64 b, u32 path length, u32 second path
 * length, u32 data length, then the paths (relative to the root; "" is the root itself) and
 * the data. Paths outside the root are not logged (the call is not either).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum {
    OP_OPEN = 1, OP_CLOSE, OP_WRITE, OP_FSYNC, OP_FDATASYNC, OP_FTRUNCATE, OP_RENAME,
    OP_LINK, OP_UNLINK, OP_MKDIR, OP_RMDIR, OP_SYMLINK, OP_SYNC, OP_MSYNC, OP_MMAP,
    OP_FALLOCATE, OP_SYNC_RANGE,
};

#define MAX_FD 65536
static unsigned char tracked[MAX_FD];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;
static char root[PATH_MAX];
static size_t root_length;
static int configured = -1;

#define REAL(name, ret, ...) \
    static ret (*real_##name)(__VA_ARGS__); \
    if (!real_##name) real_##name = dlsym(RTLD_NEXT, #name)

static void configure(void) {
    if (configured >= 0) return;
    const char *r = getenv("POWERCUT_ROOT");
    const char *l = getenv("POWERCUT_LOG");
    if (!r || !l || strlen(r) >= sizeof root) {
        configured = 0;
        return;
    }
    strcpy(root, r);
    root_length = strlen(root);
    log_fd = (int)syscall(SYS_openat, AT_FDCWD, l, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    configured = log_fd >= 0;
}

static uint64_t now(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Lexically normalises `path` (relative to `base` when not absolute) into `out`. */
static void normalise(const char *base, const char *path, char *out) {
    char joined[2 * PATH_MAX + 2];
    if (path[0] == '/') snprintf(joined, sizeof joined, "%s", path);
    else snprintf(joined, sizeof joined, "%s/%s", base, path);
    char *parts[PATH_MAX / 2];
    int count = 0;
    char *save = NULL;
    for (char *p = strtok_r(joined, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (strcmp(p, ".") == 0) continue;
        if (strcmp(p, "..") == 0) {
            if (count) count--;
            continue;
        }
        if (count < (int)(sizeof parts / sizeof parts[0])) parts[count++] = p;
    }
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < count && n < PATH_MAX - 1; i++)
        n += snprintf(out + n, PATH_MAX - n, "/%s", parts[i]);
    if (!count) strcpy(out, "/");
}

/* The path of `dirfd` (or the working directory). */
static int directory_of(int dirfd, char *out) {
    if (dirfd == AT_FDCWD) return getcwd(out, PATH_MAX) ? 0 : -1;
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
    ssize_t n = readlink(link, out, PATH_MAX - 1);
    if (n < 0) return -1;
    out[n] = 0;
    return 0;
}

/* The path under the root of `path` seen from `dirfd`, in `out`; 0 when outside. The root's
 * parent directories are taken as they are (the harness makes the root with realpath). */
static int under_root(int dirfd, const char *path, char *out) {
    configure();
    if (configured != 1 || !path) return 0;
    char base[PATH_MAX], full[PATH_MAX];
    if (path[0] != '/' && directory_of(dirfd, base) != 0) return 0;
    normalise(base, path, full);
    if (strncmp(full, root, root_length) != 0) return 0;
    if (full[root_length] == 0) {
        out[0] = 0;
        return 1;
    }
    if (full[root_length] != '/') return 0;
    strcpy(out, full + root_length + 1);
    return 1;
}

static void emit(uint32_t op, int fd, uint64_t start, int64_t result, int64_t a, int64_t b,
                 const char *path, const char *path2, const struct iovec *iov, int iovcnt,
                 size_t data_length) {
    uint32_t p1 = path ? (uint32_t)strlen(path) : 0, p2 = path2 ? (uint32_t)strlen(path2) : 0;
    struct __attribute__((packed)) {
        uint32_t length, op, thread;
        int32_t fd;
        uint64_t start, end;
        int64_t result, a, b;
        uint32_t p1, p2, data;
    } head = {0, op, (uint32_t)syscall(SYS_gettid), fd, start, now(), result, a, b, p1, p2,
              (uint32_t)data_length};
    head.length = (uint32_t)(sizeof head - 4 + p1 + p2 + data_length);
    struct iovec parts[3 + 1024];
    int n = 0;
    parts[n++] = (struct iovec){&head, sizeof head};
    if (p1) parts[n++] = (struct iovec){(void *)path, p1};
    if (p2) parts[n++] = (struct iovec){(void *)path2, p2};
    size_t left = data_length;
    for (int i = 0; i < iovcnt && left && n < (int)(sizeof parts / sizeof parts[0]); i++) {
        size_t take = iov[i].iov_len < left ? iov[i].iov_len : left;
        if (take) parts[n++] = (struct iovec){iov[i].iov_base, take};
        left -= take;
    }
    /* One record, one writev on an O_APPEND descriptor: records of other processes sharing
     * the log (a helper the server spawns) never interleave inside one. */
    size_t total = 0;
    for (int i = 0; i < n; i++) total += parts[i].iov_len;
    char *buffer = malloc(total);
    if (!buffer) abort();
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        memcpy(buffer + at, parts[i].iov_base, parts[i].iov_len);
        at += parts[i].iov_len;
    }
    for (size_t done = 0; done < total;) {
        ssize_t w = syscall(SYS_write, log_fd, buffer + done, total - done);
        if (w <= 0) abort(); /* a recording that lost a record would prove nothing */
        done += (size_t)w;
    }
    free(buffer);
}

static int is_tracked(int fd) { return fd >= 0 && fd < MAX_FD && tracked[fd]; }

static int64_t inode_of(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 ? (int64_t)st.st_ino : -1;
}

/* After an open that succeeded: tracks `fd` when its file lies under the root. */
static void opened(int fd, int flags, uint64_t start, const char *asked, int dirfd) {
    char relative[PATH_MAX];
    if (fd < 0 || fd >= MAX_FD) return;
    tracked[fd] = 0;
    if (!under_root(dirfd, asked, relative)) return;
    tracked[fd] = 1;
    emit(OP_OPEN, fd, start, fd, flags, inode_of(fd), relative, NULL, NULL, 0, 0);
}

#define OPEN_BODY(call, dirfd, path)                      \
    mode_t mode = 0;                                      \
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {                  \
        va_list ap;                                       \
        va_start(ap, flags);                              \
        mode = va_arg(ap, mode_t);                        \
        va_end(ap);                                       \
    }                                                     \
    char relative[PATH_MAX];                              \
    if (!under_root(dirfd, path, relative)) return call;  \
    pthread_mutex_lock(&lock);                            \
    uint64_t start = now();                               \
    int fd = call;                                        \
    int saved = errno;                                    \
    opened(fd, flags, start, path, dirfd);                \
    pthread_mutex_unlock(&lock);                          \
    errno = saved;                                        \
    return fd;

int open(const char *path, int flags, ...) {
    REAL(open, int, const char *, int, ...);
    OPEN_BODY(real_open(path, flags, mode), AT_FDCWD, path)
}
int open64(const char *path, int flags, ...) {
    REAL(open64, int, const char *, int, ...);
    OPEN_BODY(real_open64(path, flags, mode), AT_FDCWD, path)
}
int openat(int dirfd, const char *path, int flags, ...) {
    REAL(openat, int, int, const char *, int, ...);
    OPEN_BODY(real_openat(dirfd, path, flags, mode), dirfd, path)
}
int openat64(int dirfd, const char *path, int flags, ...) {
    REAL(openat64, int, int, const char *, int, ...);
    OPEN_BODY(real_openat64(dirfd, path, flags, mode), dirfd, path)
}
int __open_2(const char *path, int flags) {
    return open(path, flags);
}
int __open64_2(const char *path, int flags) {
    return open64(path, flags);
}
int creat(const char *path, mode_t mode) {
    return open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}
int creat64(const char *path, mode_t mode) {
    return open64(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int close(int fd) {
    REAL(close, int, int);
    if (!is_tracked(fd)) return real_close(fd);
    pthread_mutex_lock(&lock);
    uint64_t start = now();
    tracked[fd] = 0;
    int r = real_close(fd);
    int saved = errno;
    emit(OP_CLOSE, fd, start, r, 0, 0, NULL, NULL, NULL, 0, 0);
    pthread_mutex_unlock(&lock);
    errno = saved;
    return r;
}

/* A write at `offset` (-1: the descriptor's position, read back after the call). */
#define WRITE_CALL(call, iov, cnt, offset)                                              \
    pthread_mutex_lock(&lock);                                                          \
    uint64_t start = now();                                                             \
    ssize_t r = call;                                                                   \
    int saved = errno;                                                                  \
    int64_t at = (int64_t)(offset);                                                     \
    if (at < 0 && r >= 0) at = (int64_t)lseek(fd, 0, SEEK_CUR) - r;                     \
    emit(OP_WRITE, fd, start, r, at, 0, NULL, NULL, iov, cnt, r > 0 ? (size_t)r : 0);   \
    pthread_mutex_unlock(&lock);                                                        \
    errno = saved;                                                                      \
    return r;

ssize_t write(int fd, const void *buf, size_t n) {
    REAL(write, ssize_t, int, const void *, size_t);
    if (!is_tracked(fd)) return real_write(fd, buf, n);
    struct iovec one = {(void *)buf, n};
    WRITE_CALL(real_write(fd, buf, n), &one, 1, -1)
}
ssize_t pwrite(int fd, const void *buf, size_t n, off_t offset) {
    REAL(pwrite, ssize_t, int, const void *, size_t, off_t);
    if (!is_tracked(fd)) return real_pwrite(fd, buf, n, offset);
    struct iovec one = {(void *)buf, n};
    WRITE_CALL(real_pwrite(fd, buf, n, offset), &one, 1, offset)
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t offset) {
    REAL(pwrite64, ssize_t, int, const void *, size_t, off_t);
    if (!is_tracked(fd)) return real_pwrite64(fd, buf, n, offset);
    struct iovec one = {(void *)buf, n};
    WRITE_CALL(real_pwrite64(fd, buf, n, offset), &one, 1, offset)
}
ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    REAL(writev, ssize_t, int, const struct iovec *, int);
    if (!is_tracked(fd)) return real_writev(fd, iov, cnt);
    WRITE_CALL(real_writev(fd, iov, cnt), iov, cnt, -1)
}
ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t offset) {
    REAL(pwritev, ssize_t, int, const struct iovec *, int, off_t);
    if (!is_tracked(fd)) return real_pwritev(fd, iov, cnt, offset);
    WRITE_CALL(real_pwritev(fd, iov, cnt, offset), iov, cnt, offset)
}
ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t offset) {
    REAL(pwritev64, ssize_t, int, const struct iovec *, int, off_t);
    if (!is_tracked(fd)) return real_pwritev64(fd, iov, cnt, offset);
    WRITE_CALL(real_pwritev64(fd, iov, cnt, offset), iov, cnt, offset)
}

#define FD_CALL(op, call, a, b)                                                   \
    pthread_mutex_lock(&lock);                                                    \
    uint64_t start = now();                                                       \
    int64_t r = (int64_t)(call);                                                  \
    int saved = errno;                                                            \
    emit(op, fd, start, r, a, b, NULL, NULL, NULL, 0, 0);                         \
    pthread_mutex_unlock(&lock);                                                  \
    errno = saved;

int fsync(int fd) {
    REAL(fsync, int, int);
    if (!is_tracked(fd)) return real_fsync(fd);
    FD_CALL(OP_FSYNC, real_fsync(fd), 0, 0)
    return (int)r;
}
int fdatasync(int fd) {
    REAL(fdatasync, int, int);
    if (!is_tracked(fd)) return real_fdatasync(fd);
    FD_CALL(OP_FDATASYNC, real_fdatasync(fd), 0, 0)
    return (int)r;
}
int sync_file_range(int fd, off64_t offset, off64_t n, unsigned int flags) {
    REAL(sync_file_range, int, int, off64_t, off64_t, unsigned int);
    if (!is_tracked(fd)) return real_sync_file_range(fd, offset, n, flags);
    FD_CALL(OP_SYNC_RANGE, real_sync_file_range(fd, offset, n, flags), offset, n)
    return (int)r;
}
int ftruncate(int fd, off_t length) {
    REAL(ftruncate, int, int, off_t);
    if (!is_tracked(fd)) return real_ftruncate(fd, length);
    FD_CALL(OP_FTRUNCATE, real_ftruncate(fd, length), length, 0)
    return (int)r;
}
int ftruncate64(int fd, off64_t length) {
    REAL(ftruncate64, int, int, off64_t);
    if (!is_tracked(fd)) return real_ftruncate64(fd, length);
    FD_CALL(OP_FTRUNCATE, real_ftruncate64(fd, length), length, 0)
    return (int)r;
}
int fallocate(int fd, int mode, off_t offset, off_t n) {
    REAL(fallocate, int, int, int, off_t, off_t);
    if (!is_tracked(fd)) return real_fallocate(fd, mode, offset, n);
    FD_CALL(OP_FALLOCATE, real_fallocate(fd, mode, offset, n), offset, n)
    return (int)r;
}
int posix_fallocate(int fd, off_t offset, off_t n) {
    REAL(posix_fallocate, int, int, off_t, off_t);
    if (!is_tracked(fd)) return real_posix_fallocate(fd, offset, n);
    FD_CALL(OP_FALLOCATE, real_posix_fallocate(fd, offset, n), offset, n)
    return (int)r;
}
void *mmap(void *address, size_t n, int prot, int flags, int fd, off_t offset) {
    REAL(mmap, void *, void *, size_t, int, int, int, off_t);
    if (!is_tracked(fd) || !(prot & PROT_WRITE) || !(flags & MAP_SHARED))
        return real_mmap(address, n, prot, flags, fd, offset);
    pthread_mutex_lock(&lock);
    uint64_t start = now();
    void *m = real_mmap(address, n, prot, flags, fd, offset);
    int saved = errno;
    emit(OP_MMAP, fd, start, (int64_t)(intptr_t)m, offset, (int64_t)n, NULL, NULL, NULL, 0, 0);
    pthread_mutex_unlock(&lock);
    errno = saved;
    return m;
}
int msync(void *address, size_t n, int flags) {
    REAL(msync, int, void *, size_t, int);
    configure();
    if (configured != 1) return real_msync(address, n, flags);
    pthread_mutex_lock(&lock);
    uint64_t start = now();
    int r = real_msync(address, n, flags);
    int saved = errno;
    emit(OP_MSYNC, -1, start, r, (int64_t)(intptr_t)address, (int64_t)n, NULL, NULL, NULL, 0, 0);
    pthread_mutex_unlock(&lock);
    errno = saved;
    return r;
}
void sync(void) {
    REAL(sync, void, void);
    configure();
    if (configured != 1) return real_sync();
    pthread_mutex_lock(&lock);
    uint64_t start = now();
    real_sync();
    emit(OP_SYNC, -1, start, 0, 0, 0, NULL, NULL, NULL, 0, 0);
    pthread_mutex_unlock(&lock);
}
int syncfs(int fd) {
    REAL(syncfs, int, int);
    configure();
    if (configured != 1) return real_syncfs(fd);
    FD_CALL(OP_SYNC, real_syncfs(fd), 0, 0)
    return (int)r;
}

/* Calls on names: logged when a name lies under the root. */
#define NAME_CALL(op, call, dirfd1, path1, dirfd2, path2, a)                         \
    char one[PATH_MAX], two[PATH_MAX];                                                \
    int in1 = under_root(dirfd1, path1, one);                                         \
    int in2 = path2 ? under_root(dirfd2, path2, two) : 0;                             \
    if (!in1 && !in2) return call;                                                    \
    pthread_mutex_lock(&lock);                                                        \
    uint64_t start = now();                                                           \
    int r = call;                                                                     \
    int saved = errno;                                                                \
    emit(op, -1, start, r, a, (in1 ? 1 : 0) | (in2 ? 2 : 0), in1 ? one : "",          \
         in2 ? two : (path2 ? "" : NULL), NULL, 0, 0);                                \
    pthread_mutex_unlock(&lock);                                                      \
    errno = saved;                                                                    \
    return r;

int rename(const char *from, const char *to) {
    REAL(rename, int, const char *, const char *);
    NAME_CALL(OP_RENAME, real_rename(from, to), AT_FDCWD, from, AT_FDCWD, to, 0)
}
int renameat(int d1, const char *from, int d2, const char *to) {
    REAL(renameat, int, int, const char *, int, const char *);
    NAME_CALL(OP_RENAME, real_renameat(d1, from, d2, to), d1, from, d2, to, 0)
}
int renameat2(int d1, const char *from, int d2, const char *to, unsigned int flags) {
    REAL(renameat2, int, int, const char *, int, const char *, unsigned int);
    NAME_CALL(OP_RENAME, real_renameat2(d1, from, d2, to, flags), d1, from, d2, to, flags)
}
int link(const char *from, const char *to) {
    REAL(link, int, const char *, const char *);
    NAME_CALL(OP_LINK, real_link(from, to), AT_FDCWD, from, AT_FDCWD, to, 0)
}
int linkat(int d1, const char *from, int d2, const char *to, int flags) {
    REAL(linkat, int, int, const char *, int, const char *, int);
    NAME_CALL(OP_LINK, real_linkat(d1, from, d2, to, flags), d1, from, d2, to, flags)
}
int symlink(const char *target, const char *to) {
    REAL(symlink, int, const char *, const char *);
    NAME_CALL(OP_SYMLINK, real_symlink(target, to), AT_FDCWD, to, AT_FDCWD, NULL, 0)
}
int symlinkat(const char *target, int d, const char *to) {
    REAL(symlinkat, int, const char *, int, const char *);
    NAME_CALL(OP_SYMLINK, real_symlinkat(target, d, to), d, to, AT_FDCWD, NULL, 0)
}
int unlink(const char *path) {
    REAL(unlink, int, const char *);
    NAME_CALL(OP_UNLINK, real_unlink(path), AT_FDCWD, path, AT_FDCWD, NULL, 0)
}
int unlinkat(int d, const char *path, int flags) {
    REAL(unlinkat, int, int, const char *, int);
    NAME_CALL(flags & AT_REMOVEDIR ? OP_RMDIR : OP_UNLINK, real_unlinkat(d, path, flags), d,
              path, AT_FDCWD, NULL, flags)
}
int rmdir(const char *path) {
    REAL(rmdir, int, const char *);
    NAME_CALL(OP_RMDIR, real_rmdir(path), AT_FDCWD, path, AT_FDCWD, NULL, 0)
}
int mkdir(const char *path, mode_t mode) {
    REAL(mkdir, int, const char *, mode_t);
    NAME_CALL(OP_MKDIR, real_mkdir(path, mode), AT_FDCWD, path, AT_FDCWD, NULL, mode)
}
int mkdirat(int d, const char *path, mode_t mode) {
    REAL(mkdirat, int, int, const char *, mode_t);
    NAME_CALL(OP_MKDIR, real_mkdirat(d, path, mode), d, path, AT_FDCWD, NULL, mode)
}
