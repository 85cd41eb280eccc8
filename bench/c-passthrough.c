/*
 * The C ceiling for the native backend: a minimal libfuse 3 low-level
 * passthrough that serves one file read-only as DIR/<basename>, with the
 * same FUSE settings as memview's native backend and nothing else.
 * bench/run.ts compiles it (cc + pkg-config fuse3) and runs it beside memview.
 *
 *   c-passthrough FILE DIR [--max-read BYTES] [--readahead-kb N] [--no-splice] [--direct-io]
 *
 * Prints one line once mounted (after raising the readahead); SIGTERM or
 * SIGINT unmounts and exits.
 */
#define FUSE_USE_VERSION 312
#define _GNU_SOURCE
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int src_fd;
static struct stat src_st;
static const char *name;
static unsigned max_read = 1008 * 1024;
static int use_splice = 1, direct_io = 0;

static void fill(fuse_ino_t ino, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = ino;
  st->st_mode = ino == 1 ? S_IFDIR | 0555 : S_IFREG | 0444;
  st->st_nlink = 1;
  st->st_size = ino == 1 ? 4096 : src_st.st_size;
  st->st_mtim = src_st.st_mtim;
}

static void op_init(void *u, struct fuse_conn_info *c) {
  (void)u;
  c->max_read = max_read;
  if (use_splice) c->want |= c->capable & (FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
  else c->want &= ~(FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *n) {
  if (parent != 1 || strcmp(n, name) != 0) return (void)fuse_reply_err(req, ENOENT);
  struct fuse_entry_param e = { .ino = 2, .attr_timeout = 3600, .entry_timeout = 3600 };
  fill(2, &e.attr);
  fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)fi;
  struct stat st;
  if (ino != 1 && ino != 2) return (void)fuse_reply_err(req, ENOENT);
  fill(ino, &st);
  fuse_reply_attr(req, &st, 3600);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  if (ino != 2) return (void)fuse_reply_err(req, EISDIR);
  fi->keep_cache = 1;
  fi->direct_io = direct_io;
  fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)fi;
  char buf[1024];
  size_t used = 0;
  const char *names[] = { ".", "..", name };
  for (off_t i = off; i < 3; i++) {
    struct stat st;
    fill(i == 2 ? 2 : 1, &st);
    size_t need = fuse_add_direntry(req, buf + used, (size < sizeof buf ? size : sizeof buf) - used, names[i], &st, i + 1);
    if (used + need > size || used + need > sizeof buf) break;
    used += need;
  }
  (void)ino;
  fuse_reply_buf(req, buf, used);
}

static __thread char *tbuf;
static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)ino; (void)fi;
  if (use_splice) {
    struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
    bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK | FUSE_BUF_FD_RETRY;
    bv.buf[0].fd = src_fd;
    bv.buf[0].pos = off;
    fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
    return;
  }
  if (!tbuf) tbuf = malloc(max_read > size ? max_read : size);
  ssize_t n = pread(src_fd, tbuf, size, off);
  if (n < 0) return (void)fuse_reply_err(req, errno);
  fuse_reply_buf(req, tbuf, n);
}

static const struct fuse_lowlevel_ops ops = {
  .init = op_init, .lookup = op_lookup, .getattr = op_getattr, .open = op_open, .readdir = op_readdir, .read = op_read,
};

static struct fuse_session *se;
static void *loop(void *a) {
  (void)a;
  struct fuse_loop_config *cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(cfg, 10);
  fuse_session_loop_mt(se, cfg);
  fuse_loop_cfg_destroy(cfg);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: c-passthrough FILE DIR [--max-read BYTES] [--readahead-kb N] [--no-splice] [--direct-io]\n");
    return 2;
  }
  int readahead_kb = 0;
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "--max-read") && i + 1 < argc) max_read = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--readahead-kb") && i + 1 < argc) readahead_kb = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-splice")) use_splice = 0;
    else if (!strcmp(argv[i], "--direct-io")) direct_io = 1;
  }
  src_fd = open(argv[1], O_RDONLY);
  if (src_fd < 0 || fstat(src_fd, &src_st) < 0) return perror(argv[1]), 1;
  name = strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1];
  char opts[256];
  snprintf(opts, sizeof opts, "ro,default_permissions,fsname=c-passthrough,subtype=c-passthrough,max_read=%u", max_read);
  char *fargv[] = { argv[0], "-o", opts, NULL };
  struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
  se = fuse_session_new(&args, &ops, sizeof ops, NULL);
  if (!se || fuse_session_mount(se, argv[2]) != 0) return 1;
  /* signals: the main thread waits for them, the FUSE threads never see one */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  pthread_t t;
  pthread_create(&t, NULL, loop, NULL);
  struct stat st;
  /* the first stat waits for the INIT reply, after which the bdi readahead can be raised */
  if (stat(argv[2], &st) == 0 && readahead_kb > 0) {
    char path[96];
    snprintf(path, sizeof path, "/sys/class/bdi/%u:%u/read_ahead_kb", major(st.st_dev), minor(st.st_dev));
    FILE *f = fopen(path, "w");
    if (f) fprintf(f, "%d", readahead_kb), fclose(f);
  }
  printf("c-passthrough of %s on %s\n", argv[1], argv[2]);
  fflush(stdout);
  int sig;
  sigwait(&set, &sig);
  /* unmounting ends the connection: the loop threads see ENODEV and return (the bench runs as root) */
  if (umount2(argv[2], MNT_DETACH) != 0) perror("umount2");
  pthread_join(t, NULL);
  fuse_session_unmount(se);
  fuse_session_destroy(se);
  return 0;
}
