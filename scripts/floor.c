/* floor: the least a Gearman job server can do for gearload's fg, bg and drain loads, in C.
 *
 * It is not a job server: one thread, one function (whatever name the first packet gives),
 * no uniques, priorities, timeouts, admin commands or limits, and a job's handle is its number.
 * What it keeps is the work every server must do per job on this machine: the same packets
 * over loopback TCP, read with one recv per readable socket, answered with one send per
 * connection per epoll turn, a FIFO of jobs and a wake-up (NOOP) for sleeping workers. Its
 * jobs/s are the ceiling that scripts/bench_floor compares gearmand and gearmand-py against.
 *
 * Build: cc -O2 -o floor floor.c        Run: floor PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { CAN_DO = 1, PRE_SLEEP = 4, NOOP = 6, SUBMIT_JOB = 7, JOB_CREATED = 8, GRAB_JOB = 9,
       NO_JOB = 10, JOB_ASSIGN = 11, WORK_COMPLETE = 13, ECHO_REQ = 16, ECHO_RES = 17,
       SUBMIT_JOB_BG = 18, ERROR = 19, GRAB_JOB_UNIQ = 30, JOB_ASSIGN_UNIQ = 31 };

typedef struct { char *b; size_t len, cap; } buf_t;

static void buf_put(buf_t *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t c = b->cap ? b->cap : 4096;
    while (c < b->len + n) c *= 2;
    b->b = realloc(b->b, c);
    b->cap = c;
  }
  memcpy(b->b + b->len, p, n);
  b->len += n;
}

typedef struct conn {
  int fd, sleeping, dirty, writing;
  buf_t in, out;
  size_t out_off;
} conn_t;

typedef struct { conn_t *client; char *data; size_t len; } job_t;

static job_t *jobs; static long njobs, jobcap;           /* by handle number */
static long *queue; static long qhead, qtail, qcap;     /* ring of queued job numbers */
static conn_t **sleepers; static int nsleepers, sleepcap;
static conn_t **dirty; static int ndirty, dirtycap;
static char func[256]; static size_t funclen;
static int epfd;

static void mark(conn_t *c) {
  if (c->dirty) return;
  if (ndirty == dirtycap) {
    dirtycap = dirtycap ? dirtycap * 2 : 64;
    dirty = realloc(dirty, dirtycap * sizeof *dirty);
  }
  dirty[ndirty++] = c;
  c->dirty = 1;
}

static void reply(conn_t *c, uint32_t type, const char *a, size_t al, const char *b, size_t bl,
                  const char *d, size_t dl) {
  uint32_t h[3];
  size_t size = al + (b ? 1 + bl : 0) + (d ? 1 + dl : 0);
  memcpy(h, "\0RES", 4);
  h[1] = htonl(type);
  h[2] = htonl((uint32_t)size);
  buf_put(&c->out, h, 12);
  buf_put(&c->out, a, al);
  if (b) { buf_put(&c->out, "", 1); buf_put(&c->out, b, bl); }
  if (d) { buf_put(&c->out, "", 1); buf_put(&c->out, d, dl); }
  mark(c);
}

static void push(long n) {
  if (qtail - qhead == qcap) {
    long ncap = qcap ? qcap * 2 : 1024, *nq = malloc(ncap * sizeof *nq);
    for (long i = qhead; i < qtail; i++) nq[i - qhead] = queue[i % qcap];
    free(queue);
    queue = nq; qtail -= qhead; qhead = 0; qcap = ncap;
  }
  queue[qtail++ % qcap] = n;
}

static void wake_one(void) {
  if (nsleepers == 0) return;
  conn_t *w = sleepers[--nsleepers];
  w->sleeping = 0;
  reply(w, NOOP, "", 0, NULL, 0, NULL, 0);
}

static void submit(conn_t *c, int bg, const char *args, size_t size) {
  const char *e1 = memchr(args, 0, size), *e2 = e1 ? memchr(e1 + 1, 0, size - (e1 + 1 - args)) : NULL;
  if (!e2) { reply(c, ERROR, "bad", 3, "submit", 6, NULL, 0); return; }
  if (!funclen) { funclen = e1 - args < 255 ? e1 - args : 255; memcpy(func, args, funclen); }
  if (njobs == jobcap) { jobcap = jobcap ? jobcap * 2 : 4096; jobs = realloc(jobs, jobcap * sizeof *jobs); }
  job_t *j = &jobs[njobs];
  j->client = bg ? NULL : c;
  j->len = size - (e2 + 1 - args);
  j->data = malloc(j->len ? j->len : 1);
  memcpy(j->data, e2 + 1, j->len);
  char handle[32];
  int hl = snprintf(handle, sizeof handle, "H:f:%ld", njobs);
  push(njobs++);
  reply(c, JOB_CREATED, handle, hl, NULL, 0, NULL, 0);
  wake_one();
}

static void grab(conn_t *c, int uniq) {
  if (qhead == qtail) { reply(c, NO_JOB, "", 0, NULL, 0, NULL, 0); return; }
  long n = queue[qhead++ % qcap];
  char handle[32];
  int hl = snprintf(handle, sizeof handle, "H:f:%ld", n);
  if (uniq) {
    uint32_t h[3]; size_t size = hl + 1 + funclen + 1 + 0 + 1 + jobs[n].len;
    memcpy(h, "\0RES", 4); h[1] = htonl(JOB_ASSIGN_UNIQ); h[2] = htonl((uint32_t)size);
    buf_put(&c->out, h, 12); buf_put(&c->out, handle, hl); buf_put(&c->out, "", 1);
    buf_put(&c->out, func, funclen); buf_put(&c->out, "", 1); buf_put(&c->out, "", 1);
    buf_put(&c->out, jobs[n].data, jobs[n].len);
    mark(c);
  } else {
    reply(c, JOB_ASSIGN, handle, hl, func, funclen, jobs[n].data, jobs[n].len);
  }
}

static void complete(conn_t *c, const char *args, size_t size) {
  const char *e = memchr(args, 0, size);
  if (!e || e - args < 4) { reply(c, ERROR, "bad", 3, "handle", 6, NULL, 0); return; }
  long n = strtol(args + 4, NULL, 10);
  if (n < 0 || n >= njobs || !jobs[n].data) { reply(c, ERROR, "bad", 3, "handle", 6, NULL, 0); return; }
  if (jobs[n].client) reply(jobs[n].client, WORK_COMPLETE, args, e - args, e + 1, size - (e + 1 - args), NULL, 0);
  free(jobs[n].data);
  jobs[n].data = NULL;
}

static void handle(conn_t *c, uint32_t type, const char *args, size_t size) {
  switch (type) {
  case CAN_DO: break;
  case SUBMIT_JOB: submit(c, 0, args, size); break;
  case SUBMIT_JOB_BG: submit(c, 1, args, size); break;
  case GRAB_JOB: grab(c, 0); break;
  case GRAB_JOB_UNIQ: grab(c, 1); break;
  case PRE_SLEEP:
    if (qhead != qtail) { reply(c, NOOP, "", 0, NULL, 0, NULL, 0); break; }
    if (!c->sleeping) {
      if (nsleepers == sleepcap) { sleepcap = sleepcap ? sleepcap * 2 : 64; sleepers = realloc(sleepers, sleepcap * sizeof *sleepers); }
      sleepers[nsleepers++] = c;
      c->sleeping = 1;
    }
    break;
  case WORK_COMPLETE: complete(c, args, size); break;
  case ECHO_REQ: reply(c, ECHO_RES, args, size, NULL, 0, NULL, 0); break;
  default: reply(c, ERROR, "bad", 3, "type", 4, NULL, 0);
  }
}

static void drop(conn_t *c) {
  for (int i = 0; i < nsleepers; i++)
    if (sleepers[i] == c) { sleepers[i] = sleepers[--nsleepers]; break; }
  for (long i = 0; i < njobs; i++) if (jobs[i].client == c) jobs[i].client = NULL;
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;  /* freed never: a floor run is short, and a dirty list may still name it */
}

static void on_read(conn_t *c) {
  char tmp[65536];
  ssize_t got = recv(c->fd, tmp, sizeof tmp, 0);
  if (got <= 0) { if (got == 0 || errno != EAGAIN) drop(c); return; }
  buf_put(&c->in, tmp, got);
  size_t off = 0;
  while (c->in.len - off >= 12) {
    uint32_t type, size;
    memcpy(&type, c->in.b + off + 4, 4); memcpy(&size, c->in.b + off + 8, 4);
    type = ntohl(type); size = ntohl(size);
    if (c->in.len - off < 12 + (size_t)size) break;
    handle(c, type, c->in.b + off + 12, size);
    off += 12 + size;
  }
  memmove(c->in.b, c->in.b + off, c->in.len - off);
  c->in.len -= off;
}

static void flush(conn_t *c) {
  while (c->fd >= 0 && c->out_off < c->out.len) {
    ssize_t sent = send(c->fd, c->out.b + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EAGAIN && !c->writing) {
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->writing = 1;
      }
      if (errno != EAGAIN) drop(c);
      return;
    }
    c->out_off += sent;
  }
  c->out.len = c->out_off = 0;
  if (c->writing && c->fd >= 0) {
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->writing = 0;
  }
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: floor PORT\n"); return 2; }
  int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 4096)) { perror("floor"); return 1; }
  epfd = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, ready[256];
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
  for (;;) {
    int n = epoll_wait(epfd, ready, 256, -1);
    for (int i = 0; i < n; i++) {
      conn_t *c = ready[i].data.ptr;
      if (!c) {
        int fd;
        while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          c = calloc(1, sizeof *c);
          c->fd = fd;
          struct epoll_event cev = { .events = EPOLLIN, .data.ptr = c };
          epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      if (c->fd < 0) continue;
      if (ready[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_read(c);
      if (c->fd >= 0 && (ready[i].events & EPOLLOUT)) mark(c);
    }
    for (int i = 0; i < ndirty; i++) { dirty[i]->dirty = 0; flush(dirty[i]); }
    ndirty = 0;
  }
}
