// efsfs: the lab's EFS latency (lab/latency.sh). The kernel here has no NFS client, so the media directory is
// served by this FUSE file system instead: every call passes through to a host directory, and each call that
// Linux's NFSv4.1 client would send to EFS as a round trip waits first for EFS's latency. The kernel's caches stand
// in for the NFS client's: attributes and names are cached for as long as the NFS client would (acregmin/acregmax,
// acdirmin/acdirmax, growing while nothing changes), data pages are kept across opens while the file is unchanged,
// and an open always reaches the server (close-to-open; EFS grants no delegations).
//
//   efsfs DIR --stats FILE [--read-us N] [--write-us N] [--acregmin S] [--acregmax S] [--acdirmin S] [--acdirmax S]
//
// DIR is both the directory served and the mount point: it is opened before the mount, and mounted over, so that
// every user of the path, in the instances and on the host, goes through one "server". Mounted allow_other and
// default_permissions (the kernel checks permissions against the attributes); new files belong to the caller.
// Counters per operation (calls, waits, time waited) live in FILE, a memory-mapped table that readers take
// snapshots of (benchmarks/bench.py): magic "LABEFS1\0", u64 count, u64 read_ns, u64 write_ns, then per
// operation char name[16], u64 calls, u64 waits, u64 wait_ns. Runs in the foreground until unmounted or SIGTERM.
#define _GNU_SOURCE
#define FUSE_USE_VERSION 34
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* ---- counters ---- */
enum op {
  OP_LOOKUP, OP_LOOKUP_MISS, OP_GETATTR, OP_SETATTR, OP_READLINK, OP_MKNOD, OP_MKDIR, OP_UNLINK, OP_RMDIR,
  OP_SYMLINK, OP_RENAME, OP_LINK, OP_OPEN, OP_CREATE, OP_READ, OP_WRITE, OP_FLUSH, OP_RELEASE, OP_FSYNC,
  OP_OPENDIR, OP_READDIR, OP_RELEASEDIR, OP_STATFS, OP_FORGET, NOPS
};
static const char *op_names[NOPS] = {
  "lookup", "lookup_miss", "getattr", "setattr", "readlink", "mknod", "mkdir", "unlink", "rmdir",
  "symlink", "rename", "link", "open", "create", "read", "write", "flush", "release", "fsync",
  "opendir", "readdir", "releasedir", "statfs", "forget",
};
struct op_stats { char name[16]; uint64_t calls, waits, wait_ns; };
struct stats_file { char magic[8]; uint64_t nops, read_ns, write_ns; struct op_stats op[NOPS]; };
static struct stats_file *stats;

/* ---- settings ---- */
static uint64_t read_ns = 500000, write_ns = 2700000;         /* EFS's latency per round trip */
static double acregmin = 3, acregmax = 60, acdirmin = 30, acdirmax = 60; /* nfs(5) defaults */
static uint64_t early_ns; /* how late a timed wake-up comes here (measured at start): waits end that much early */

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* count OP; if it is a round trip to EFS of LATENCY, wait until LATENCY after the call came in (STARTED) */
static void charge(enum op op, uint64_t started, uint64_t latency) {
  __atomic_fetch_add(&stats->op[op].calls, 1, __ATOMIC_RELAXED);
  if (!latency) return;
  __atomic_fetch_add(&stats->op[op].waits, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&stats->op[op].wait_ns, latency, __ATOMIC_RELAXED);
  uint64_t until = started + latency - (latency > early_ns ? early_ns : latency);
  struct timespec t = { (time_t)(until / 1000000000u), (long)(until % 1000000000u) };
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {}
}

/* ---- nodes: one per inode the kernel knows, with an O_PATH descriptor and the NFS client's attribute cache ---- */
struct node {
  struct node *next;
  dev_t dev; ino_t ino;
  int fd;
  uint64_t nlookup;
  int is_dir, seen;
  struct timespec mtim, ctim; off_t size; /* the attributes last seen, to tell a change */
  double timeo; uint64_t stamp;           /* attribute cache lifetime and when it started */
  struct timespec listed_mtim; int listed; /* a directory's mtime when the kernel last cached its listing */
  struct timespec opened_mtim; off_t opened_size; int opened; /* a file's, when the kernel last cached its pages */
};
#define BUCKETS 65536
static struct node *table[BUCKETS];
static struct node root;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct node *N(fuse_ino_t ino) { return ino == FUSE_ROOT_ID ? &root : (struct node *)(uintptr_t)ino; }
static fuse_ino_t I(struct node *n) { return n == &root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n; }
static unsigned bucket(dev_t dev, ino_t ino) { return (unsigned)((ino * 0x9E3779B97F4A7C15ull) ^ dev) % BUCKETS; }
static int same_time(const struct timespec *a, const struct timespec *b) { return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec; }

/* The NFS client's attribute cache (Linux nfs_update_inode): on a change the lifetime falls back to its minimum;
   each time it runs out with nothing changed it doubles, up to its maximum. Returns the lifetime. Under lock. */
static double observe(struct node *n, const struct stat *st) {
  uint64_t now = now_ns();
  double min = n->is_dir ? acdirmin : acregmin, max = n->is_dir ? acdirmax : acregmax;
  int changed = !n->seen || !same_time(&st->st_mtim, &n->mtim) || !same_time(&st->st_ctim, &n->ctim) || st->st_size != n->size;
  if (changed) {
    n->timeo = min; n->stamp = now;
  } else if ((double)(now - n->stamp) >= n->timeo * 1e9) {
    n->timeo = n->timeo * 2 > max ? max : n->timeo * 2; n->stamp = now;
  }
  n->mtim = st->st_mtim; n->ctim = st->st_ctim; n->size = st->st_size; n->seen = 1;
  return n->timeo;
}
static int fresh(struct node *n) { return n->seen && (double)(now_ns() - n->stamp) < n->timeo * 1e9; }
/* how long the kernel may keep a name in directory P: while P's attributes are cached (nfs_check_verifier) */
static double entry_timeout(struct node *p) {
  double left = p->timeo - (double)(now_ns() - p->stamp) / 1e9;
  return left > 0 ? left : 0;
}

static int stat_node(struct node *n, struct stat *st) {
  return fstatat(n->fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
}

/* NAME in PARENT as an entry for the kernel (a new lookup reference); ENOENT leaves e->ino 0 */
static int do_lookup(struct node *p, const char *name, struct fuse_entry_param *e) {
  memset(e, 0, sizeof *e);
  int fd = openat(p->fd, name, O_PATH | O_NOFOLLOW);
  if (fd < 0) return errno;
  struct stat st;
  if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) { int err = errno; close(fd); return err; }
  pthread_mutex_lock(&lock);
  unsigned b = bucket(st.st_dev, st.st_ino);
  struct node *n = table[b];
  while (n && !(n->dev == st.st_dev && n->ino == st.st_ino)) n = n->next;
  if (n) {
    close(fd);
  } else {
    n = calloc(1, sizeof *n);
    if (!n) { pthread_mutex_unlock(&lock); close(fd); return ENOMEM; }
    n->dev = st.st_dev; n->ino = st.st_ino; n->fd = fd; n->is_dir = S_ISDIR(st.st_mode);
    n->next = table[b]; table[b] = n;
  }
  n->nlookup++;
  e->ino = I(n);
  e->attr = st;
  e->attr_timeout = observe(n, &st);
  e->entry_timeout = entry_timeout(p);
  pthread_mutex_unlock(&lock);
  return 0;
}

static void forget_one(fuse_ino_t ino, uint64_t count) {
  struct node *n = N(ino);
  if (n == &root) return;
  pthread_mutex_lock(&lock);
  n->nlookup = n->nlookup > count ? n->nlookup - count : 0;
  if (!n->nlookup) {
    struct node **pp = &table[bucket(n->dev, n->ino)];
    while (*pp && *pp != n) pp = &(*pp)->next;
    if (*pp) *pp = n->next;
    close(n->fd);
    free(n);
  }
  pthread_mutex_unlock(&lock);
}

static void proc_path(char *buf, int fd) { snprintf(buf, 64, "/proc/self/fd/%d", fd); }

/* A file handle: the descriptor, and whether it wrote since its last flush (what a close makes durable). */
struct handle { int fd; int dirty; DIR *dir; };

/* ---- operations ---- */
static void efs_init(void *userdata, struct fuse_conn_info *conn) {
  (void)userdata;
  conn->want &= ~FUSE_CAP_READDIRPLUS;       /* names only, as getdents; attributes by lookup */
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;   /* writes reach us at once; they are charged at close, as NFS flushes */
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA; /* mtime changed: pages dropped */
}

static void efs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  uint64_t t0 = now_ns();
  struct fuse_entry_param e;
  struct node *p = N(parent);
  int err = do_lookup(p, name, &e);
  if (err == ENOENT) {
    charge(OP_LOOKUP_MISS, t0, read_ns);
    pthread_mutex_lock(&lock);
    e.ino = 0;
    e.entry_timeout = entry_timeout(p); /* a negative entry, cached as long as a positive one (lookupcache=all) */
    pthread_mutex_unlock(&lock);
    fuse_reply_entry(req, &e);
    return;
  }
  charge(OP_LOOKUP, t0, read_ns);
  if (err) fuse_reply_err(req, err); else fuse_reply_entry(req, &e);
}

static void efs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  charge(OP_FORGET, 0, 0);
  forget_one(ino, nlookup);
  fuse_reply_none(req);
}
static void efs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets) {
  for (size_t i = 0; i < count; i++) { charge(OP_FORGET, 0, 0); forget_one(forgets[i].ino, forgets[i].nlookup); }
  fuse_reply_none(req);
}

static void reply_attr(fuse_req_t req, struct node *n) {
  struct stat st;
  int err = stat_node(n, &st);
  if (err) { fuse_reply_err(req, err); return; }
  pthread_mutex_lock(&lock);
  double t = observe(n, &st);
  pthread_mutex_unlock(&lock);
  fuse_reply_attr(req, &st, t);
}

static void efs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)fi;
  uint64_t t0 = now_ns();
  charge(OP_GETATTR, t0, read_ns);
  reply_attr(req, N(ino));
}

static void efs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  uint64_t t0 = now_ns();
  struct node *n = N(ino);
  char path[64];
  proc_path(path, n->fd);
  int fd = fi ? ((struct handle *)(uintptr_t)fi->fh)->fd : -1;
  if (to_set & FUSE_SET_ATTR_MODE && chmod(path, attr->st_mode) < 0) goto fail;
  if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    uid_t uid = to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1;
    gid_t gid = to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1;
    if (fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) goto fail;
  }
  if (to_set & FUSE_SET_ATTR_SIZE && (fd >= 0 ? ftruncate(fd, attr->st_size) : truncate(path, attr->st_size)) < 0) goto fail;
  if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
    struct timespec tv[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };
    if (to_set & FUSE_SET_ATTR_ATIME_NOW) tv[0].tv_nsec = UTIME_NOW; else if (to_set & FUSE_SET_ATTR_ATIME) tv[0] = attr->st_atim;
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) tv[1].tv_nsec = UTIME_NOW; else if (to_set & FUSE_SET_ATTR_MTIME) tv[1] = attr->st_mtim;
    if ((fd >= 0 ? futimens(fd, tv) : utimensat(AT_FDCWD, path, tv, 0)) < 0) goto fail;
  }
  charge(OP_SETATTR, t0, write_ns);
  reply_attr(req, n);
  return;
fail:;
  int err = errno;
  charge(OP_SETATTR, t0, write_ns);
  fuse_reply_err(req, err);
}

static void efs_readlink(fuse_req_t req, fuse_ino_t ino) {
  uint64_t t0 = now_ns();
  char buf[PATH_MAX + 1];
  ssize_t len = readlinkat(N(ino)->fd, "", buf, sizeof buf - 1);
  charge(OP_READLINK, t0, read_ns);
  if (len < 0) { fuse_reply_err(req, errno); return; }
  buf[len] = 0;
  fuse_reply_readlink(req, buf);
}

/* after a call that made NAME in PARENT: it belongs to the caller, and the kernel gets its entry */
static void made(fuse_req_t req, enum op op, uint64_t t0, struct node *p, const char *name, int rc) {
  int err = rc < 0 ? errno : 0;
  if (!err) {
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    if (fchownat(p->fd, name, ctx->uid, ctx->gid, AT_SYMLINK_NOFOLLOW) < 0) err = errno;
  }
  struct fuse_entry_param e;
  if (!err) err = do_lookup(p, name, &e);
  charge(op, t0, write_ns);
  if (err) fuse_reply_err(req, err); else fuse_reply_entry(req, &e);
}

static void efs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  uint64_t t0 = now_ns();
  made(req, OP_MKNOD, t0, N(parent), name, mknodat(N(parent)->fd, name, mode, rdev));
}
static void efs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  uint64_t t0 = now_ns();
  made(req, OP_MKDIR, t0, N(parent), name, mkdirat(N(parent)->fd, name, mode));
}
static void efs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name) {
  uint64_t t0 = now_ns();
  made(req, OP_SYMLINK, t0, N(parent), name, symlinkat(link, N(parent)->fd, name));
}
static void efs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name) {
  uint64_t t0 = now_ns();
  char path[64];
  proc_path(path, N(ino)->fd);
  int rc = linkat(AT_FDCWD, path, N(parent)->fd, name, AT_SYMLINK_FOLLOW);
  int err = rc < 0 ? errno : 0;
  struct fuse_entry_param e;
  if (!err) err = do_lookup(N(parent), name, &e);
  charge(OP_LINK, t0, write_ns);
  if (err) fuse_reply_err(req, err); else fuse_reply_entry(req, &e);
}

static void efs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
  uint64_t t0 = now_ns();
  int err = unlinkat(N(parent)->fd, name, 0) < 0 ? errno : 0;
  charge(OP_UNLINK, t0, write_ns);
  fuse_reply_err(req, err);
}
static void efs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) {
  uint64_t t0 = now_ns();
  int err = unlinkat(N(parent)->fd, name, AT_REMOVEDIR) < 0 ? errno : 0;
  charge(OP_RMDIR, t0, write_ns);
  fuse_reply_err(req, err);
}
static void efs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
                       unsigned int flags) {
  uint64_t t0 = now_ns();
  int err = renameat2(N(parent)->fd, name, N(newparent)->fd, newname, flags) < 0 ? errno : 0;
  charge(OP_RENAME, t0, write_ns);
  fuse_reply_err(req, err);
}

/* Close-to-open: the open goes to EFS (OPEN with GETATTR); the cached pages stay if the file has not changed. */
static int open_file(struct node *n, struct fuse_file_info *fi, int fd) {
  struct handle *h = calloc(1, sizeof *h);
  if (!h) return ENOMEM;
  h->fd = fd;
  struct stat st;
  if (fstat(fd, &st) == 0) {
    pthread_mutex_lock(&lock);
    observe(n, &st);
    fi->keep_cache = n->opened && same_time(&st.st_mtim, &n->opened_mtim) && st.st_size == n->opened_size;
    n->opened = 1; n->opened_mtim = st.st_mtim; n->opened_size = st.st_size;
    pthread_mutex_unlock(&lock);
  }
  fi->fh = (uint64_t)(uintptr_t)h;
  return 0;
}

static void efs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  uint64_t t0 = now_ns();
  struct node *n = N(ino);
  char path[64];
  proc_path(path, n->fd);
  int fd = open(path, fi->flags & ~(O_NOFOLLOW | O_CREAT | O_EXCL));
  int err = fd < 0 ? errno : open_file(n, fi, fd);
  charge(OP_OPEN, t0, fi->flags & O_TRUNC ? write_ns : read_ns);
  if (err) { if (fd >= 0) close(fd); fuse_reply_err(req, err); return; }
  if (fuse_reply_open(req, fi) == -ENOENT) { /* the caller was interrupted */
    close(fd); free((struct handle *)(uintptr_t)fi->fh);
  }
}

static void efs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi) {
  uint64_t t0 = now_ns();
  struct node *p = N(parent);
  int fd = openat(p->fd, name, (fi->flags | O_CREAT) & ~O_NOFOLLOW, mode);
  int err = fd < 0 ? errno : 0;
  if (!err) {
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    if (fchown(fd, ctx->uid, ctx->gid) < 0) err = errno;
  }
  struct fuse_entry_param e;
  if (!err) err = do_lookup(p, name, &e);
  if (!err) err = open_file(N(e.ino), fi, fd);
  charge(OP_CREATE, t0, write_ns);
  if (err) { if (fd >= 0) close(fd); fuse_reply_err(req, err); return; }
  if (fuse_reply_create(req, &e, fi) == -ENOENT) { close(fd); free((struct handle *)(uintptr_t)fi->fh); }
}

static void efs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)ino;
  uint64_t t0 = now_ns();
  struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
  buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
  buf.buf[0].fd = ((struct handle *)(uintptr_t)fi->fh)->fd;
  buf.buf[0].pos = off;
  charge(OP_READ, t0, read_ns); /* only pages the kernel does not have come here */
  fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void efs_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)ino;
  struct handle *h = (struct handle *)(uintptr_t)fi->fh;
  ssize_t n = pwrite(h->fd, data, size, off);
  charge(OP_WRITE, 0, 0); /* the NFS client buffers writes: their round trips are charged when the file is closed */
  if (n < 0) { fuse_reply_err(req, errno); return; }
  __atomic_store_n(&h->dirty, 1, __ATOMIC_RELAXED);
  fuse_reply_write(req, (size_t)n);
}

/* close(2): NFSv4 CLOSE, after WRITE and COMMIT of what the file wrote since it was opened or last flushed */
static void efs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)ino;
  uint64_t t0 = now_ns();
  struct handle *h = (struct handle *)(uintptr_t)fi->fh;
  int dirty = __atomic_exchange_n(&h->dirty, 0, __ATOMIC_RELAXED);
  charge(OP_FLUSH, t0, read_ns + (dirty ? write_ns : 0));
  fuse_reply_err(req, 0);
}

static void efs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)ino;
  struct handle *h = (struct handle *)(uintptr_t)fi->fh;
  charge(OP_RELEASE, 0, 0);
  close(h->fd);
  free(h);
  fuse_reply_err(req, 0);
}

static void efs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  (void)ino;
  uint64_t t0 = now_ns();
  struct handle *h = (struct handle *)(uintptr_t)fi->fh;
  int err = (datasync ? fdatasync(h->fd) : fsync(h->fd)) < 0 ? errno : 0;
  __atomic_store_n(&h->dirty, 0, __ATOMIC_RELAXED);
  charge(OP_FSYNC, t0, write_ns);
  fuse_reply_err(req, err);
}

/* A directory's listing stays cached while the directory is unchanged; once its attributes have run out, telling
   that costs a GETATTR, as it costs the NFS client. */
static void efs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  uint64_t t0 = now_ns();
  struct node *n = N(ino);
  int fd = openat(n->fd, ".", O_RDONLY | O_DIRECTORY);
  struct handle *h = fd < 0 ? NULL : calloc(1, sizeof *h);
  DIR *dir = h ? fdopendir(fd) : NULL;
  if (!dir) {
    int err = errno ? errno : ENOMEM;
    if (fd >= 0) close(fd);
    free(h);
    charge(OP_OPENDIR, t0, 0);
    fuse_reply_err(req, err);
    return;
  }
  h->fd = fd; h->dir = dir;
  struct stat st;
  uint64_t latency = 0;
  pthread_mutex_lock(&lock);
  int was_fresh = fresh(n);
  pthread_mutex_unlock(&lock);
  if (fstat(fd, &st) == 0) {
    pthread_mutex_lock(&lock);
    if (!was_fresh) { observe(n, &st); latency = read_ns; }
    fi->keep_cache = n->listed && same_time(&st.st_mtim, &n->listed_mtim);
    fi->cache_readdir = 1;
    pthread_mutex_unlock(&lock);
  }
  fi->fh = (uint64_t)(uintptr_t)h;
  charge(OP_OPENDIR, t0, latency);
  if (fuse_reply_open(req, fi) == -ENOENT) { closedir(dir); free(h); }
}

static void efs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  uint64_t t0 = now_ns();
  struct node *n = N(ino);
  struct handle *h = (struct handle *)(uintptr_t)fi->fh;
  char *buf = malloc(size);
  if (!buf) { charge(OP_READDIR, t0, read_ns); fuse_reply_err(req, ENOMEM); return; }
  if (off == 0) {
    rewinddir(h->dir);
    struct stat st;
    if (fstat(h->fd, &st) == 0) {
      pthread_mutex_lock(&lock);
      n->listed = 1; n->listed_mtim = st.st_mtim;
      pthread_mutex_unlock(&lock);
    }
  } else {
    seekdir(h->dir, off);
  }
  size_t pos = 0;
  for (;;) {
    errno = 0;
    long before = telldir(h->dir);
    struct dirent *d = readdir(h->dir);
    if (!d) break;
    struct stat st = { .st_ino = d->d_ino, .st_mode = (mode_t)DTTOIF(d->d_type) };
    size_t len = fuse_add_direntry(req, buf + pos, size - pos, d->d_name, &st, telldir(h->dir));
    if (len > size - pos) { seekdir(h->dir, before); break; }
    pos += len;
  }
  charge(OP_READDIR, t0, read_ns);
  fuse_reply_buf(req, buf, pos);
  free(buf);
}

static void efs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)ino;
  struct handle *h = (struct handle *)(uintptr_t)fi->fh;
  charge(OP_RELEASEDIR, 0, 0);
  closedir(h->dir);
  free(h);
  fuse_reply_err(req, 0);
}

static void efs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  (void)ino; (void)datasync; (void)fi;
  fuse_reply_err(req, 0);
}

static void efs_statfs(fuse_req_t req, fuse_ino_t ino) {
  uint64_t t0 = now_ns();
  struct statvfs sv;
  int fd = openat(N(ino)->fd, ".", O_RDONLY | O_DIRECTORY);
  int err = fd < 0 || fstatvfs(fd, &sv) < 0 ? errno : 0;
  if (fd >= 0) close(fd);
  charge(OP_STATFS, t0, read_ns);
  if (err) fuse_reply_err(req, err); else fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops ops = {
  .init = efs_init, .lookup = efs_lookup, .forget = efs_forget, .forget_multi = efs_forget_multi,
  .getattr = efs_getattr, .setattr = efs_setattr, .readlink = efs_readlink, .mknod = efs_mknod, .mkdir = efs_mkdir,
  .unlink = efs_unlink, .rmdir = efs_rmdir, .symlink = efs_symlink, .rename = efs_rename, .link = efs_link,
  .open = efs_open, .read = efs_read, .write = efs_write, .flush = efs_flush, .release = efs_release,
  .fsync = efs_fsync, .opendir = efs_opendir, .readdir = efs_readdir, .releasedir = efs_releasedir,
  .fsyncdir = efs_fsyncdir, .statfs = efs_statfs, .create = efs_create,
};

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}
/* the median lateness of 101 timed waits of 200 us, capped at 200 us */
static uint64_t wakeup_lateness_ns(void) {
  uint64_t late[101];
  for (int i = 0; i < 101; i++) {
    uint64_t t0 = now_ns(), until = t0 + 200000;
    struct timespec t = { (time_t)(until / 1000000000u), (long)(until % 1000000000u) };
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
    uint64_t slept = now_ns() - t0;
    late[i] = slept > 200000 ? slept - 200000 : 0;
  }
  qsort(late, 101, sizeof late[0], cmp_u64);
  return late[50] < 200000 ? late[50] : 200000;
}

static void usage(const char *self) {
  fprintf(stderr, "usage: %s DIR --stats FILE [--read-us N] [--write-us N] [--acregmin S] [--acregmax S] "
                  "[--acdirmin S] [--acdirmax S]\n", self);
  exit(2);
}

int main(int argc, char **argv) {
  const char *dir = NULL, *stats_path = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (a[0] != '-') { if (dir) usage(argv[0]); dir = a; continue; }
    if (!v) usage(argv[0]);
    if (!strcmp(a, "--stats")) stats_path = v;
    else if (!strcmp(a, "--read-us")) read_ns = (uint64_t)(atof(v) * 1000);
    else if (!strcmp(a, "--write-us")) write_ns = (uint64_t)(atof(v) * 1000);
    else if (!strcmp(a, "--acregmin")) acregmin = atof(v);
    else if (!strcmp(a, "--acregmax")) acregmax = atof(v);
    else if (!strcmp(a, "--acdirmin")) acdirmin = atof(v);
    else if (!strcmp(a, "--acdirmax")) acdirmax = atof(v);
    else usage(argv[0]);
    i++;
  }
  if (!dir || !stats_path) usage(argv[0]);
  umask(0); /* the kernel has applied the caller's umask to the modes it sends */

  int sfd = open(stats_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (sfd < 0 || ftruncate(sfd, sizeof *stats) < 0) { perror("efsfs: stats file"); return 1; }
  stats = mmap(NULL, sizeof *stats, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
  if (stats == MAP_FAILED) { perror("efsfs: mmap"); return 1; }
  memcpy(stats->magic, "LABEFS1", 8);
  stats->nops = NOPS; stats->read_ns = read_ns; stats->write_ns = write_ns;
  for (int i = 0; i < NOPS; i++) snprintf(stats->op[i].name, sizeof stats->op[i].name, "%s", op_names[i]);

  root.fd = open(dir, O_PATH | O_DIRECTORY);
  if (root.fd < 0) { perror("efsfs: directory"); return 1; }
  struct stat st;
  if (fstat(root.fd, &st) < 0) { perror("efsfs: stat"); return 1; }
  root.dev = st.st_dev; root.ino = st.st_ino; root.is_dir = 1; root.nlookup = 1;
  observe(&root, &st);

  /* Inherited by the worker threads: no timer slack, and ahead of the PHP workers that wait for them, as the kernel's
     NFS client runs ahead of user processes (the kernel's RT throttling still leaves them 5% of each CPU). */
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  struct sched_param sp = { .sched_priority = 5 };
  if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0) fprintf(stderr, "efsfs: no SCHED_FIFO (%s); normal priority\n", strerror(errno));
  early_ns = wakeup_lateness_ns();

  char fsname[PATH_MAX + 16];
  snprintf(fsname, sizeof fsname, "fsname=efsfs:%s", dir);
  char *fargv[] = { argv[0], "-o", "allow_other,default_permissions,subtype=efsfs", "-o", fsname, NULL };
  struct fuse_args args = FUSE_ARGS_INIT(5, fargv);
  struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, NULL);
  if (!se) return 1;
  if (fuse_set_signal_handlers(se) != 0) return 1;
  if (fuse_session_mount(se, dir) != 0) { fprintf(stderr, "efsfs: cannot mount over %s\n", dir); return 1; }
  fprintf(stderr, "efsfs: %s mounted over itself; round trips wait %.1f us (reads, lookups, opens, closes) and "
                  "%.1f us (changes); attributes cached %g-%g s (files), %g-%g s (directories); timed wake-ups come "
                  "%.1f us late here: waits end that much early\n", dir, read_ns / 1000.0, write_ns / 1000.0,
          acregmin, acregmax, acdirmin, acdirmax, early_ns / 1000.0);
  struct fuse_loop_config *cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(cfg, 128); /* callers wait in parallel, as they do on EFS */
  fuse_loop_cfg_set_idle_threads(cfg, 16);
  int rc = fuse_session_loop_mt(se, cfg);
  fuse_loop_cfg_destroy(cfg);
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  return rc ? 1 : 0;
}
