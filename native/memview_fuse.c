/*
 * memview's native read path: a libfuse 3 low-level filesystem, served by
 * libfuse's multithreaded loop on threads of its own, answering reads from
 * the piece tables memview computed at mount time (src/engine/piece-table.ts).
 *
 * Per request: zeros and header bytes are copied from memory, source pieces
 * are pread from the image's descriptor (or spliced from it when the request
 * lies in one piece). Only pieces whose source has no descriptor (decoded or
 * remote stores) go to JavaScript, through a threadsafe function, with at
 * most `maxInflight` such calls outstanding.
 *
 * Knows files and pieces, nothing of the formats. Read-only: mounted ro,
 * opens for writing and setattr answer EROFS.
 */
#define FUSE_USE_VERSION 312
#define _GNU_SOURCE
#include <fuse_lowlevel.h>
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum { PIECE_ZERO = 0, PIECE_BYTES = 1, PIECE_SOURCE = 2 };

/*
 * A node's piece table: the JavaScript typed arrays and buffer themselves, not
 * copies (a million ranges make hundreds of MB of rows). Their memory stays
 * put (array buffers never move) and alive (one reference each, dropped by
 * destroy() once the FUSE threads have ended); JavaScript never changes them.
 */
enum { TABLE_REFS = 5 };
typedef struct {
  uint32_t count;
  const double *starts, *lengths, *offsets;
  const uint8_t *kinds;
  const uint8_t *bytes;   /* every bytes row's data: row i at bytes + offsets[i] */
  size_t bytes_len;
  napi_ref refs[TABLE_REFS];
} table_t;

typedef struct {
  char *name;
  uint32_t parent;  /* node index */
  int is_dir;
  uint64_t size, blocks;
  int fd;           /* source descriptor for source pieces, -1: ask JavaScript */
  table_t t;
  uint32_t *children, nchildren;  /* directories */
} node_t;

typedef struct mount_s mount_t;

/* One read request waiting for JavaScript parts. */
typedef struct {
  mount_t *m;
  fuse_req_t req;
  char *buf;
  size_t size;
  atomic_int remaining;
  atomic_int err;
} pending_t;

typedef struct {
  pending_t *p;
  uint32_t node;
  double position;
  size_t length;
  char *dst;
} part_t;

typedef struct {
  int kind; /* 0 error, 1 exit */
  uint32_t node;
  int code;
  char *message;
} event_t;

struct mount_s {
  struct fuse_session *se;
  char *mountpoint;
  node_t *nodes;
  uint32_t nnodes;
  uint32_t *hash; /* open addressing over (parent, name) -> node index + 1 */
  uint32_t hash_mask;
  struct stat dir_st, file_st;
  double timeout;
  int keep_cache, direct_io, splice;
  size_t max_read;
  size_t splice_max; /* the largest reply that fits a pipe with its header: a bigger one makes libfuse copy, slowly */
  pthread_t loop_thread;
  int loop_started;
  int loop_result;
  atomic_int exited;
  atomic_int unmounted;
  int root; /* mounted by us with mount(2), else through fusermount */
  const char *fusermount;
  napi_threadsafe_function read_fn, event_fn;
  sem_t inflight;
  atomic_int outstanding;   /* pending_t alive */
  atomic_int destroy_wanted;
  int destroyed;
};

/* never written: its pages are the kernel's shared zero page, so replying from it costs no memory */
static char zeros[4 << 20];
static __thread char *thread_buf;
static __thread size_t thread_buf_size;

/* ---------- helpers ---------- */

static void post_event(mount_t *m, int kind, uint32_t node, int code, const char *message) {
  event_t *e = calloc(1, sizeof *e);
  if (!e) return;
  e->kind = kind;
  e->node = node;
  e->code = code;
  e->message = message ? strdup(message) : NULL;
  if (napi_call_threadsafe_function(m->event_fn, e, napi_tsfn_nonblocking) != napi_ok) {
    free(e->message);
    free(e);
  }
}

static uint32_t name_hash(uint32_t parent, const char *name) {
  uint32_t h = 2166136261u ^ parent;
  for (const unsigned char *s = (const unsigned char *)name; *s; s++) h = (h ^ *s) * 16777619u;
  return h;
}

static int64_t lookup_child(mount_t *m, uint32_t parent, const char *name) {
  for (uint32_t i = name_hash(parent, name) & m->hash_mask;; i = (i + 1) & m->hash_mask) {
    uint32_t v = m->hash[i];
    if (v == 0) return -1;
    node_t *n = &m->nodes[v - 1];
    if (n->parent == parent && strcmp(n->name, name) == 0) return v - 1;
  }
}

static void fill_stat(mount_t *m, uint32_t index, struct stat *st) {
  node_t *n = &m->nodes[index];
  *st = n->is_dir ? m->dir_st : m->file_st;
  st->st_ino = index + 1;
  st->st_size = n->size;
  st->st_blocks = n->blocks;
}

static node_t *node_of(mount_t *m, fuse_ino_t ino) {
  if (ino < 1 || ino > m->nnodes) return NULL;
  return &m->nodes[ino - 1];
}

/* First piece holding `offset` (offset < size). */
static uint32_t find_piece(const table_t *t, double offset) {
  uint32_t lo = 0, hi = t->count - 1;
  while (lo < hi) {
    uint32_t mid = (lo + hi + 1) / 2;
    if (t->starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/* pread all of it; returns 0, or an errno (EIO on a short read: the source shrank). */
static int pread_fully(int fd, char *dst, size_t len, off_t pos) {
  size_t done = 0;
  while (done < len) {
    ssize_t r = pread(fd, dst + done, len - done, pos + done);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (r == 0) return EIO;
    done += r;
  }
  return 0;
}

static void report_source_error(mount_t *m, uint32_t node, int err, double position) {
  char msg[160];
  if (err == EIO) snprintf(msg, sizeof msg, "short read at source offset 0x%llx (the source shrank?)", (unsigned long long)position);
  else snprintf(msg, sizeof msg, "source read at offset 0x%llx: %s", (unsigned long long)position, strerror(err));
  post_event(m, 0, node, err, msg);
}

/* ---------- JavaScript parts ---------- */

static void finish_pending(pending_t *p) {
  mount_t *m = p->m;
  int err = atomic_load(&p->err);
  if (err) fuse_reply_err(p->req, err);
  else fuse_reply_buf(p->req, p->buf, p->size);
  free(p->buf);
  free(p);
  if (atomic_fetch_sub(&m->outstanding, 1) == 1 && atomic_load(&m->destroy_wanted)) {
    /* the last answer after destroy() was asked for: nothing refers to the session any more */
    extern void really_destroy(mount_t *m);
    really_destroy(m);
  }
}

static void part_done(part_t *part, int err) {
  pending_t *p = part->p;
  if (err) atomic_store(&p->err, err);
  sem_post(&p->m->inflight);
  free(part);
  if (atomic_fetch_sub(&p->remaining, 1) == 1) finish_pending(p);
}

static void call_read_js(napi_env env, napi_value fn, void *ctx, void *data) {
  (void)ctx;
  part_t *part = data;
  if (env == NULL || fn == NULL) {
    part_done(part, EIO);
    return;
  }
  napi_value argv[5], undefined, token;
  napi_get_undefined(env, &undefined);
  napi_create_uint32(env, part->node, &argv[0]);
  napi_create_double(env, part->position, &argv[1]);
  napi_create_uint32(env, (uint32_t)part->length, &argv[2]);
  /* The request's own memory: JavaScript fills it in place and must not keep it after complete(). */
  if (napi_create_external_buffer(env, part->length, part->dst, NULL, NULL, &argv[3]) != napi_ok ||
      napi_create_external(env, part, NULL, NULL, &token) != napi_ok) {
    part_done(part, EIO);
    return;
  }
  argv[4] = token;
  if (napi_call_function(env, undefined, fn, 5, argv, NULL) != napi_ok) {
    /* the wrapper never throws; if it did, fail this part (the exception is reported by Node) */
    part_done(part, EIO);
  }
}

static void call_event_js(napi_env env, napi_value fn, void *ctx, void *data) {
  (void)ctx;
  event_t *e = data;
  if (env != NULL && fn != NULL) {
    napi_value argv[4], undefined;
    napi_get_undefined(env, &undefined);
    napi_create_string_utf8(env, e->kind == 1 ? "exit" : "error", NAPI_AUTO_LENGTH, &argv[0]);
    napi_create_uint32(env, e->node, &argv[1]);
    napi_create_int32(env, e->code, &argv[2]);
    if (e->message) napi_create_string_utf8(env, e->message, NAPI_AUTO_LENGTH, &argv[3]);
    else napi_get_undefined(env, &argv[3]);
    napi_call_function(env, undefined, fn, 4, argv, NULL);
  }
  free(e->message);
  free(e);
}

/* ---------- FUSE operations ---------- */

static void op_init(void *userdata, struct fuse_conn_info *conn) {
  mount_t *m = userdata;
  /* libfuse 3.14 rejects INIT unless this equals the max_read mount option */
  conn->max_read = m->max_read;
  if (m->splice) conn->want |= (conn->capable & (FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE));
  else conn->want &= ~(FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  mount_t *m = fuse_req_userdata(req);
  node_t *p = node_of(m, parent);
  if (!p || !p->is_dir) return (void)fuse_reply_err(req, p ? ENOTDIR : ENOENT);
  int64_t i = lookup_child(m, parent - 1, name);
  if (i < 0) return (void)fuse_reply_err(req, ENOENT);
  struct fuse_entry_param e;
  memset(&e, 0, sizeof e);
  e.ino = i + 1;
  e.attr_timeout = m->timeout;
  e.entry_timeout = m->timeout;
  fill_stat(m, i, &e.attr);
  fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)fi;
  mount_t *m = fuse_req_userdata(req);
  if (!node_of(m, ino)) return (void)fuse_reply_err(req, ENOENT);
  struct stat st;
  fill_stat(m, ino - 1, &st);
  fuse_reply_attr(req, &st, m->timeout);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  (void)ino; (void)attr; (void)to_set; (void)fi;
  fuse_reply_err(req, EROFS);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  mount_t *m = fuse_req_userdata(req);
  node_t *n = node_of(m, ino);
  if (!n) return (void)fuse_reply_err(req, ENOENT);
  if (n->is_dir) return (void)fuse_reply_err(req, EISDIR);
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) return (void)fuse_reply_err(req, EROFS);
  fi->keep_cache = m->keep_cache;
  fi->direct_io = m->direct_io;
  fuse_reply_open(req, fi);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  mount_t *m = fuse_req_userdata(req);
  node_t *n = node_of(m, ino);
  if (!n) return (void)fuse_reply_err(req, ENOENT);
  if (!n->is_dir) return (void)fuse_reply_err(req, ENOTDIR);
  fi->cache_readdir = 1;
  fi->keep_cache = 1;
  fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  mount_t *m = fuse_req_userdata(req);
  node_t *d = node_of(m, ino);
  if (!d || !d->is_dir) return (void)fuse_reply_err(req, ENOTDIR);
  char *buf = malloc(size);
  if (!buf) return (void)fuse_reply_err(req, ENOMEM);
  size_t used = 0;
  for (off_t i = off; i < (off_t)d->nchildren + 2; i++) {
    struct stat st;
    const char *name;
    if (i < 2) {
      fill_stat(m, i == 0 ? ino - 1 : d->parent, &st);
      name = i == 0 ? "." : "..";
    } else {
      uint32_t c = d->children[i - 2];
      fill_stat(m, c, &st);
      name = m->nodes[c].name;
    }
    size_t need = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
    if (need > size - used) break;
    used += need;
  }
  fuse_reply_buf(req, buf, used);
  free(buf);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino) {
  (void)ino;
  mount_t *m = fuse_req_userdata(req);
  struct statvfs s;
  memset(&s, 0, sizeof s);
  s.f_bsize = 4096;
  s.f_frsize = 4096;
  s.f_files = m->nnodes;
  s.f_namemax = 255;
  s.f_flag = ST_RDONLY;
  fuse_reply_statfs(req, &s);
}

/* Copies [pos, pos+len) of node `ni` into dst from memory and the source fd; JavaScript parts are counted, not filled. */
static int fill_native(mount_t *m, uint32_t ni, char *dst, size_t len, double pos, int *js_parts) {
  node_t *n = &m->nodes[ni];
  const table_t *t = &n->t;
  double end = pos + len;
  uint32_t i = find_piece(t, pos);
  while (pos < end) {
    double within = pos - t->starts[i];
    double piece_end = t->starts[i] + t->lengths[i];
    size_t k = (size_t)((piece_end < end ? piece_end : end) - pos);
    switch (t->kinds[i]) {
    case PIECE_ZERO:
      memset(dst, 0, k);
      break;
    case PIECE_BYTES:
      memcpy(dst, t->bytes + (size_t)(t->offsets[i] + within), k);
      break;
    default:
      if (n->fd < 0) {
        (*js_parts)++;
      } else {
        int err = pread_fully(n->fd, dst, k, (off_t)(t->offsets[i] + within));
        if (err) {
          report_source_error(m, ni, err, t->offsets[i] + within);
          return err;
        }
      }
    }
    dst += k;
    pos += k;
    i++;
  }
  return 0;
}

/* Sends JavaScript the source pieces of [pos, pos+len) that fill_native left, then answers when all are back. */
static void read_through_js(mount_t *m, fuse_req_t req, uint32_t ni, char *buf, size_t len, double pos, int js_parts) {
  pending_t *p = calloc(1, sizeof *p);
  if (!p) {
    free(buf);
    return (void)fuse_reply_err(req, ENOMEM);
  }
  p->m = m;
  p->req = req;
  p->buf = buf;
  p->size = len;
  atomic_store(&p->remaining, js_parts + 1); /* +1: ours, so no answer goes out before every part is sent */
  atomic_fetch_add(&m->outstanding, 1);
  const table_t *t = &m->nodes[ni].t;
  double end = pos + len;
  uint32_t i = find_piece(t, pos);
  char *dst = buf;
  while (pos < end) {
    double within = pos - t->starts[i];
    double piece_end = t->starts[i] + t->lengths[i];
    size_t k = (size_t)((piece_end < end ? piece_end : end) - pos);
    if (t->kinds[i] == PIECE_SOURCE) {
      part_t *part = calloc(1, sizeof *part);
      sem_wait(&m->inflight);
      if (!part) {
        atomic_store(&p->err, ENOMEM);
        sem_post(&m->inflight);
        atomic_fetch_sub(&p->remaining, 1);
      } else {
        part->p = p;
        part->node = ni;
        part->position = t->offsets[i] + within;
        part->length = k;
        part->dst = dst;
        if (napi_call_threadsafe_function(m->read_fn, part, napi_tsfn_blocking) != napi_ok) part_done(part, EIO);
      }
    }
    dst += k;
    pos += k;
    i++;
  }
  if (atomic_fetch_sub(&p->remaining, 1) == 1) finish_pending(p);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  mount_t *m = fuse_req_userdata(req);
  node_t *n = node_of(m, ino);
  if (!n || n->is_dir) return (void)fuse_reply_err(req, n ? EISDIR : ENOENT);
  if ((uint64_t)off >= n->size || size == 0) return (void)fuse_reply_buf(req, NULL, 0);
  if ((uint64_t)off + size > n->size) size = n->size - off;
  const table_t *t = &n->t;
  uint32_t ni = ino - 1;
  uint32_t i = find_piece(t, (double)off);
  double within = (double)off - t->starts[i];
  if (within + size <= t->lengths[i]) {
    /* the whole request in one piece: no staging buffer */
    if (t->kinds[i] == PIECE_ZERO && size <= sizeof zeros) return (void)fuse_reply_buf(req, zeros, size); /* holes: no copy of ours */
    if (t->kinds[i] == PIECE_BYTES) return (void)fuse_reply_buf(req, (const char *)t->bytes + (size_t)(t->offsets[i] + within), size);
    if (t->kinds[i] == PIECE_SOURCE && n->fd >= 0 && m->splice && size >= 2 * 4096 && size <= m->splice_max) {
      off_t pos = (off_t)(t->offsets[i] + within);
      struct stat st;
      /* a source truncated under the mount: EIO, as the copying path says, not a short splice */
      if (fstat(n->fd, &st) == 0 && st.st_size < pos + (off_t)size) {
        report_source_error(m, ni, EIO, (double)st.st_size);
        return (void)fuse_reply_err(req, EIO);
      }
      struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
      bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK | FUSE_BUF_FD_RETRY;
      bv.buf[0].fd = n->fd;
      bv.buf[0].pos = pos;
      /* a read error is answered by libfuse itself; a negative result is only a failed send (interrupted) */
      fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
      return;
    }
  }
  int js_parts = 0;
  if (n->fd < 0) {
    /* JavaScript fills part of it later: the buffer must outlive this call */
    char *buf = malloc(size);
    if (!buf) return (void)fuse_reply_err(req, ENOMEM);
    int err = fill_native(m, ni, buf, size, (double)off, &js_parts);
    if (err) {
      free(buf);
      return (void)fuse_reply_err(req, err);
    }
    if (js_parts) return read_through_js(m, req, ni, buf, size, (double)off, js_parts);
    fuse_reply_buf(req, buf, size);
    free(buf);
    return;
  }
  if (thread_buf_size < size) {
    free(thread_buf);
    thread_buf_size = size > m->max_read ? size : m->max_read;
    thread_buf = malloc(thread_buf_size);
    if (!thread_buf) {
      thread_buf_size = 0;
      return (void)fuse_reply_err(req, ENOMEM);
    }
  }
  int err = fill_native(m, ni, thread_buf, size, (double)off, &js_parts);
  if (err) return (void)fuse_reply_err(req, err);
  fuse_reply_buf(req, thread_buf, size);
}

static const struct fuse_lowlevel_ops ops = {
  .init = op_init,
  .lookup = op_lookup,
  .getattr = op_getattr,
  .setattr = op_setattr,
  .open = op_open,
  .opendir = op_opendir,
  .readdir = op_readdir,
  .read = op_read,
  .statfs = op_statfs,
};

/* ---------- mount, loop, unmount ---------- */

/* While mounting (on the JS thread), libfuse's first error becomes the thrown message; later lines go to stderr. */
static __thread int capturing;
static __thread char *log_capture;
static void capture_log(enum fuse_log_level level, const char *fmt, va_list ap) {
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t l = strlen(line);
  while (l && line[l - 1] == '\n') line[--l] = 0;
  if (capturing && level <= FUSE_LOG_ERR) {
    if (!log_capture) log_capture = strdup(line);
  } else if (level <= FUSE_LOG_ERR) {
    fprintf(stderr, "memview: libfuse: %s\n", line);
  } else {
    fprintf(stderr, "%s\n", line); /* --debug traces */
  }
}

/* fusermount3, or fuse 2's fusermount (the same protocol), whichever PATH has. */
static const char *find_fusermount(void) {
  static const char *names[] = { "fusermount3", "fusermount" };
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  for (size_t n = 0; n < 2; n++) {
    const char *p = path;
    while (*p) {
      const char *colon = strchr(p, ':');
      size_t len = colon ? (size_t)(colon - p) : strlen(p);
      char full[4096];
      if (len && len + strlen(names[n]) + 2 < sizeof full) {
        snprintf(full, sizeof full, "%.*s/%s", (int)len, p, names[n]);
        if (access(full, X_OK) == 0) return names[n];
      }
      p += len + (colon ? 1 : 0);
      if (!colon) break;
    }
  }
  return NULL;
}

/*
 * Runs prog and waits; returns its exit status, or -errno when it cannot run.
 * With `err`, prog's stderr is collected there (up to errlen - 1 bytes, NUL-ended) instead of shown.
 */
static int spawn_wait(const char *prog, char *const argv[], char *const envp[], char *err, size_t errlen) {
  pid_t pid;
  int pipefd[2] = { -1, -1 };
  if (err && pipe2(pipefd, O_CLOEXEC) < 0) return -errno;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  /* Node opens its stdio close-on-exec: hand them on (dup2 onto itself clears the flag) so fusermount's message is seen */
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) >= 0) posix_spawn_file_actions_adddup2(&fa, fd, fd);
  if (err) posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  int r = posix_spawnp(&pid, prog, &fa, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  if (err) {
    close(pipefd[1]);
    size_t got = 0;
    char scratch[256];
    /* read to EOF (prog's exit) before waiting, so a full pipe never blocks it; what does not fit is dropped */
    while (!r) {
      int room = got + 1 < errlen;
      ssize_t n = read(pipefd[0], room ? err + got : scratch, room ? errlen - 1 - got : sizeof scratch);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (room) got += (size_t)n;
    }
    err[got] = 0;
    close(pipefd[0]);
  }
  if (r) return -r;
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -errno;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Without privilege: fusermount mounts and hands back the /dev/fuse descriptor over a socket (libfuse's own protocol). */
static int fusermount_mount(const char *prog, const char *mountpoint, const char *opts, char **error) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return -1;
  int child_fd = fcntl(sv[1], F_DUPFD, 3); /* without CLOEXEC: fusermount inherits it */
  close(sv[1]);
  size_t nenv = 0;
  while (environ[nenv]) nenv++;
  char **envp = calloc(nenv + 2, sizeof *envp);
  char commfd[32];
  snprintf(commfd, sizeof commfd, "_FUSE_COMMFD=%d", child_fd);
  size_t k = 0;
  for (size_t i = 0; i < nenv; i++)
    if (strncmp(environ[i], "_FUSE_COMMFD=", 13) != 0) envp[k++] = environ[i];
  envp[k++] = commfd;
  char *argv[] = { (char *)prog, "-o", (char *)opts, "--", (char *)mountpoint, NULL };
  /* fusermount's refusal (allow_other, permissions, a directory another mount took) becomes the error, one line, not its own stderr line */
  char said[512];
  int status = spawn_wait(prog, argv, envp, said, sizeof said);
  free(envp);
  close(child_fd);
  int fd = -1;
  if (status == 0) {
    char byte;
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { &byte, 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    if (recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC) > 0) {
      struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
      if (c && c->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(c), sizeof fd);
    }
  }
  close(sv[0]);
  if (fd < 0 && error && !*error) {
    char msg[640];
    char *line = said;
    size_t prefix = strlen(prog);
    if (strncmp(line, prog, prefix) == 0 && strncmp(line + prefix, ": ", 2) == 0) line += prefix + 2;
    line[strcspn(line, "\n")] = 0;
    if (status < 0) snprintf(msg, sizeof msg, "cannot run %s: %s", prog, strerror(-status));
    else if (*line) snprintf(msg, sizeof msg, "%s: %s", prog, line);
    else snprintf(msg, sizeof msg, "%s failed to mount (exit %d)", prog, status);
    *error = strdup(msg);
  }
  return fd;
}

static void *loop_main(void *arg) {
  mount_t *m = arg;
  /* signals belong to Node's main thread */
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  struct fuse_loop_config *cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(cfg, 10);
  fuse_loop_cfg_set_clone_fd(cfg, 0);
  m->loop_result = fuse_session_loop_mt(m->se, cfg);
  fuse_loop_cfg_destroy(cfg);
  atomic_store(&m->exited, 1);
  post_event(m, 1, 0, m->loop_result, NULL);
  return NULL;
}

/* Unmounts (lazily if asked); returns 0 or an errno-like code (negative: fusermount's exit status). */
static int do_unmount(mount_t *m, int lazy) {
  if (atomic_load(&m->unmounted)) return 0;
  int r;
  if (m->root) {
    r = umount2(m->mountpoint, lazy ? MNT_DETACH : 0) == 0 ? 0 : errno;
    if (r == EINVAL || r == ENOENT) r = 0; /* not mounted any more */
  } else {
    char *argv[] = { (char *)m->fusermount, lazy ? "-uz" : "-u", "--", m->mountpoint, NULL };
    int status = spawn_wait(m->fusermount, argv, environ, NULL, 0);
    /* a spawn failure is -errno: made positive; fusermount's own failure is its exit status, made negative */
    r = -status;
  }
  if (r == 0) atomic_store(&m->unmounted, 1);
  return r;
}

void really_destroy(mount_t *m) {
  fuse_session_unmount(m->se);
  fuse_session_destroy(m->se);
  for (uint32_t i = 0; i < m->nnodes; i++) {
    node_t *n = &m->nodes[i];
    free(n->name);
    free(n->children);
  }
  free(m->nodes);
  free(m->hash);
  free(m->mountpoint);
  sem_destroy(&m->inflight);
  free(m);
}

/* ---------- N-API ---------- */

#define CHECK(call)                                                            \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      napi_throw_error(env, NULL, "memview native: bad argument: " #call);     \
      goto fail;                                                               \
    }                                                                          \
  } while (0)

static int get_prop(napi_env env, napi_value obj, const char *key, napi_value *out) {
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  if (napi_get_named_property(env, obj, key, out) != napi_ok) return 0;
  napi_valuetype t;
  napi_typeof(env, *out, &t);
  return t != napi_undefined && t != napi_null;
}

static double get_number(napi_env env, napi_value obj, const char *key, double dflt) {
  napi_value v;
  double d;
  if (!get_prop(env, obj, key, &v) || napi_get_value_double(env, v, &d) != napi_ok) return dflt;
  return d;
}

static char *get_string(napi_env env, napi_value obj, const char *key) {
  napi_value v;
  size_t len;
  if (!get_prop(env, obj, key, &v) || napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

/* The data of typed array `key` of `obj` (of `type`; `count` elements unless count is -1), referenced, not copied; 0 if it is not one. */
static int typed_data(napi_env env, napi_value obj, const char *key, napi_typedarray_type want, int64_t count, const void **out, size_t *length, napi_ref *ref) {
  static const uint8_t none[1];
  napi_value v;
  void *data = NULL;
  napi_typedarray_type type;
  if (!get_prop(env, obj, key, &v)) return 0;
  if (napi_get_typedarray_info(env, v, &type, length, &data, NULL, NULL) != napi_ok || type != want) return 0;
  if (count >= 0 && *length != (size_t)count) return 0;
  if (napi_create_reference(env, v, 1, ref) != napi_ok) return 0;
  *out = data ? data : none; /* an empty array may have no memory at all */
  return 1;
}

static int read_table(napi_env env, napi_value tv, table_t *t) {
  size_t len = 0, n;
  if (!typed_data(env, tv, "starts", napi_float64_array, -1, (const void **)&t->starts, &len, &t->refs[0])) return 0;
  t->count = (uint32_t)len;
  if (!typed_data(env, tv, "lengths", napi_float64_array, len, (const void **)&t->lengths, &n, &t->refs[1]) ||
      !typed_data(env, tv, "offsets", napi_float64_array, len, (const void **)&t->offsets, &n, &t->refs[2]) ||
      !typed_data(env, tv, "kinds", napi_uint8_array, len, (const void **)&t->kinds, &n, &t->refs[3]) ||
      !typed_data(env, tv, "bytes", napi_uint8_array, -1, (const void **)&t->bytes, &t->bytes_len, &t->refs[4]))
    return 0;
  /* every row within its bytes, so the read path needs no checks */
  for (uint32_t i = 0; i < t->count; i++) {
    if (t->kinds[i] > PIECE_SOURCE) return 0;
    if (t->kinds[i] == PIECE_BYTES && (t->offsets[i] < 0 || t->offsets[i] + t->lengths[i] > (double)t->bytes_len)) return 0;
    if (i && t->starts[i] != t->starts[i - 1] + t->lengths[i - 1]) return 0;
  }
  return 1;
}

/* Drops the references that keep the tables' memory alive: on the JS thread, once no FUSE thread can read them. */
static void release_tables(napi_env env, mount_t *m) {
  for (uint32_t i = 0; i < m->nnodes; i++)
    for (int r = 0; r < TABLE_REFS; r++)
      if (m->nodes[i].t.refs[r]) {
        napi_delete_reference(env, m->nodes[i].t.refs[r]);
        m->nodes[i].t.refs[r] = NULL;
      }
}

static void throw_mount_error(napi_env env, const char *what, char *detail) {
  char msg[800];
  snprintf(msg, sizeof msg, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
  napi_throw_error(env, NULL, msg);
}

/*
 * mount({ mountpoint, options, maxRead, readaheadKb, keepCache, directIo, splice, maxInflight,
 *         timeout, uid, gid, mtime, nodes: [{ name, parent, dir, size, blocks, table, fd }] },
 *       read(node, position, length, buffer, token), event(kind, node, code, message))
 * -> { handle, fusermount, readahead }
 */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result = NULL;
  mount_t *m = calloc(1, sizeof *m);
  char *options = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "mount(config, read, event)");
    goto fail_early;
  }
  napi_value cfg = argv[0];
  m->mountpoint = get_string(env, cfg, "mountpoint");
  options = get_string(env, cfg, "options");
  if (!m->mountpoint || !options) {
    napi_throw_type_error(env, NULL, "mountpoint and options are required");
    goto fail_early;
  }
  m->max_read = (size_t)get_number(env, cfg, "maxRead", 128 * 1024);
  m->keep_cache = get_number(env, cfg, "keepCache", 1) != 0;
  m->direct_io = get_number(env, cfg, "directIo", 0) != 0;
  m->splice = get_number(env, cfg, "splice", 1) != 0;
  m->timeout = get_number(env, cfg, "timeout", 3600);
  /* libfuse wants a pipe of the reply + 4 pages; measured: a 1 MiB reply with the default 1 MiB
     pipe-max-size falls back to a malloc+copy per request (68 MB/s, 4 s of CPU per GiB) */
  m->splice_max = 1 << 20;
  FILE *pm = fopen("/proc/sys/fs/pipe-max-size", "r");
  if (pm) {
    unsigned long v;
    if (fscanf(pm, "%lu", &v) == 1) m->splice_max = v;
    fclose(pm);
  }
  m->splice_max = m->splice_max > 4 * 4096 ? m->splice_max - 4 * 4096 : 0;
  int readahead_kb = (int)get_number(env, cfg, "readaheadKb", 0);
  int max_inflight = (int)get_number(env, cfg, "maxInflight", 16);
  double mtime = get_number(env, cfg, "mtime", 0);
  struct stat base;
  memset(&base, 0, sizeof base);
  base.st_uid = (uid_t)get_number(env, cfg, "uid", 0);
  base.st_gid = (gid_t)get_number(env, cfg, "gid", 0);
  base.st_nlink = 1;
  base.st_blksize = 4096;
  base.st_mtim.tv_sec = (time_t)(mtime / 1000);
  base.st_mtim.tv_nsec = (long)((mtime - (double)base.st_mtim.tv_sec * 1000) * 1e6);
  base.st_atim = base.st_ctim = base.st_mtim;
  m->dir_st = base;
  m->dir_st.st_mode = S_IFDIR | 0555;
  m->dir_st.st_nlink = 2;
  m->file_st = base;
  m->file_st.st_mode = S_IFREG | 0444;

  napi_value nodes;
  uint32_t nn = 0;
  if (!get_prop(env, cfg, "nodes", &nodes) || napi_get_array_length(env, nodes, &nn) != napi_ok || nn == 0) {
    napi_throw_type_error(env, NULL, "nodes: an array with the root first");
    goto fail_early;
  }
  m->nnodes = nn;
  m->nodes = calloc(nn, sizeof *m->nodes);
  for (uint32_t i = 0; i < nn; i++) {
    napi_value nv, tv;
    node_t *n = &m->nodes[i];
    CHECK(napi_get_element(env, nodes, i, &nv));
    n->name = get_string(env, nv, "name");
    n->parent = (uint32_t)get_number(env, nv, "parent", 0);
    n->is_dir = get_number(env, nv, "dir", 0) != 0;
    n->size = (uint64_t)get_number(env, nv, "size", 0);
    n->blocks = (uint64_t)get_number(env, nv, "blocks", 0);
    n->fd = (int)get_number(env, nv, "fd", -1);
    if (!n->name || (i && (n->parent >= i || !m->nodes[n->parent].is_dir))) {
      napi_throw_type_error(env, NULL, "node: name and a directory parent");
      goto fail_early;
    }
    if (!n->is_dir) {
      if (!get_prop(env, nv, "table", &tv) || !read_table(env, tv, &n->t) || (n->t.count && n->t.starts[n->t.count - 1] + n->t.lengths[n->t.count - 1] < n->size) || (!n->t.count && n->size)) {
        napi_throw_type_error(env, NULL, "node table: starts/lengths/kinds/offsets/bytes covering the size");
        goto fail_early;
      }
    }
  }
  /* directory children and the (parent, name) index */
  for (uint32_t i = 1; i < nn; i++) m->nodes[m->nodes[i].parent].nchildren++;
  for (uint32_t i = 0; i < nn; i++) {
    if (m->nodes[i].nchildren) m->nodes[i].children = calloc(m->nodes[i].nchildren, sizeof(uint32_t));
    m->nodes[i].nchildren = 0;
  }
  uint32_t cap = 16;
  while (cap < nn * 2) cap <<= 1;
  m->hash = calloc(cap, sizeof *m->hash);
  m->hash_mask = cap - 1;
  for (uint32_t i = 1; i < nn; i++) {
    node_t *p = &m->nodes[m->nodes[i].parent];
    p->children[p->nchildren++] = i;
    uint32_t h = name_hash(m->nodes[i].parent, m->nodes[i].name) & m->hash_mask;
    while (m->hash[h]) h = (h + 1) & m->hash_mask;
    m->hash[h] = i + 1;
  }

  sem_init(&m->inflight, 0, max_inflight > 0 ? max_inflight : 16);
  napi_value name;
  napi_create_string_utf8(env, "memview-read", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, m, call_read_js, &m->read_fn));
  CHECK(napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL, NULL, m, call_event_js, &m->event_fn));

  /* libfuse: session options and the kernel mount options in one -o list */
  char *fargv[] = { "memview", "-o", options, NULL };
  int debug = get_number(env, cfg, "debug", 0) != 0;
  char *fargv_debug[] = { "memview", "-o", options, "-o", "debug", NULL };
  struct fuse_args args = FUSE_ARGS_INIT(debug ? 5 : 3, debug ? fargv_debug : fargv);
  fuse_set_log_func(capture_log);
  free(log_capture);
  log_capture = NULL;
  capturing = 1;
  m->se = fuse_session_new(&args, &ops, sizeof ops, m);
  if (!m->se) {
    throw_mount_error(env, "libfuse refused the options", log_capture);
    goto fail_tsfn;
  }
  m->root = geteuid() == 0;
  m->fusermount = find_fusermount();
  char *error = NULL;
  if (m->root) {
    if (fuse_session_mount(m->se, m->mountpoint) != 0) {
      throw_mount_error(env, "mount failed", log_capture);
      goto fail_session;
    }
  } else {
    if (!m->fusermount) {
      throw_mount_error(env, "mounting without root needs fusermount3 (Debian: fuse3) or fusermount (fuse) in PATH", NULL);
      goto fail_session;
    }
    int fd = fusermount_mount(m->fusermount, m->mountpoint, options, &error);
    char devfd[32];
    snprintf(devfd, sizeof devfd, "/dev/fd/%d", fd);
    if (fd < 0 || fuse_session_mount(m->se, devfd) != 0) {
      if (fd >= 0) close(fd);
      throw_mount_error(env, "mount failed", error ? error : log_capture);
      free(error);
      goto fail_session;
    }
  }
  if (pthread_create(&m->loop_thread, NULL, loop_main, m) != 0) {
    do_unmount(m, 1);
    throw_mount_error(env, "cannot start the FUSE threads", NULL);
    goto fail_session;
  }
  m->loop_started = 1;
  capturing = 0;
  /* The first stat waits for the INIT reply; the kernel sets the bdi readahead there, so raise it only after. */
  int readahead_set = 0;
  struct stat st;
  if (stat(m->mountpoint, &st) == 0 && readahead_kb > 0) {
    char path[96], value[32];
    snprintf(path, sizeof path, "/sys/class/bdi/%u:%u/read_ahead_kb", major(st.st_dev), minor(st.st_dev));
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      int l = snprintf(value, sizeof value, "%d", readahead_kb);
      readahead_set = write(fd, value, l) == l;
      close(fd);
    }
  }
  free(options);

  napi_value handle, v;
  napi_create_object(env, &result);
  napi_create_external(env, m, NULL, NULL, &handle);
  napi_set_named_property(env, result, "handle", handle);
  napi_get_boolean(env, readahead_set, &v);
  napi_set_named_property(env, result, "readahead", v);
  if (!m->root && m->fusermount) {
    napi_create_string_utf8(env, m->fusermount, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, result, "fusermount", v);
  }
  return result;

fail_session:
  fuse_session_destroy(m->se);
fail_tsfn:
  capturing = 0;
  napi_release_threadsafe_function(m->read_fn, napi_tsfn_abort);
  napi_release_threadsafe_function(m->event_fn, napi_tsfn_abort);
fail:
fail_early:
  free(options);
  /* tables of a failed mount: freed with the process; a mount fails once, then memview exits */
  return NULL;
}

static mount_t *get_mount(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) napi_throw_type_error(env, NULL, "not a mount handle");
  return p;
}

/* complete(token, errno) */
static napi_value js_complete(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *part = NULL;
  int32_t err = 0;
  if (argc < 2 || napi_get_value_external(env, argv[0], &part) != napi_ok || !part) {
    napi_throw_type_error(env, NULL, "complete(token, errno)");
    return NULL;
  }
  napi_get_value_int32(env, argv[1], &err);
  part_done(part, err);
  return NULL;
}

/* unmount(handle, lazy) -> 0 or an errno (root) / fusermount's exit status (negative) */
static napi_value js_unmount(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], r;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  mount_t *m = get_mount(env, argv[0]);
  if (!m) return NULL;
  bool lazy = false;
  if (argc > 1) napi_get_value_bool(env, argv[1], &lazy);
  int code = m->destroyed ? 0 : do_unmount(m, lazy);
  napi_create_int32(env, code, &r);
  return r;
}

/* destroy(handle): after the loop ended (the 'exit' event); frees everything once no answer is pending. */
static napi_value js_destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  mount_t *m = get_mount(env, argv[0]);
  if (!m || m->destroyed) return NULL;
  m->destroyed = 1;
  if (m->loop_started) pthread_join(m->loop_thread, NULL);
  release_tables(env, m);
  napi_release_threadsafe_function(m->read_fn, napi_tsfn_release);
  napi_release_threadsafe_function(m->event_fn, napi_tsfn_release);
  atomic_store(&m->destroy_wanted, 1);
  if (atomic_load(&m->outstanding) == 0) really_destroy(m);
  return NULL;
}

static napi_value js_strerror(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], r;
  int32_t e = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_value_int32(env, argv[0], &e);
  napi_create_string_utf8(env, strerror(e), NAPI_AUTO_LENGTH, &r);
  return r;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL },
    { "complete", NULL, js_complete, NULL, NULL, NULL, napi_default, NULL },
    { "unmount", NULL, js_unmount, NULL, NULL, NULL, napi_default, NULL },
    { "destroy", NULL, js_destroy, NULL, NULL, NULL, napi_default, NULL },
    { "strerror", NULL, js_strerror, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof *props, props);
  napi_value v;
  napi_create_string_utf8(env, fuse_pkgversion(), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, exports, "libfuseVersion", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
