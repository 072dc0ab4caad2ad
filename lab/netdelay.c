// netdelay: the lab's network latency (lab/latency.sh). The kernel here has no netem (CONFIG_NET_SCH_NETEM) and no
// fq qdisc to honour departure times, but it has NFQUEUE: iptables hands each packet to this process, which holds
// it for a fixed time and then lets it go on (NF_ACCEPT). One FIFO per queue, every packet of a queue held for the
// same time, so packets leave in the order they came and a verdict for the newest due packet covers all before it.
//
//   netdelay QUEUE:MICROSECONDS...      e.g. netdelay 0:450 1:450 2:450
//
// Runs in the foreground until SIGTERM/SIGINT, then lets every held packet go. Only packet metadata is copied to
// user space (NFQNL_COPY_META), and segmentation offload packets stay whole (NFQA_CFG_F_GSO). Held packets are
// counted by the kernel (/proc/net/netfilter/nfnetlink_queue: id sequence, queue_dropped, user_dropped); a queue
// with no listener drops its packets, so a dead netdelay shows as a database that no longer answers, never as a
// fast one.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_QUEUES 16
#define RING (1u << 16) /* packets held per queue at most; the kernel queue holds as many */

struct held { uint32_t id; uint64_t due_ns; };
struct queue {
  uint16_t num;
  uint64_t delay_ns;
  struct nfq_q_handle *qh;
  struct held *ring;
  uint32_t head, tail; /* ring[head % RING] .. ring[(tail-1) % RING] */
  uint64_t released, overflow;
};

static struct queue queues[MAX_QUEUES];
static int nqueues;
static volatile sig_atomic_t stop;
/* How late a timed wake-up of this process comes, measured at start (a VM's timer interrupts add tens of
   microseconds): packets are released that much before their time, so that they leave on time on average. */
static uint64_t early_ns;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  (void)msg;
  struct queue *q = data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  if (q->tail - q->head >= RING) { /* never expected: let it through rather than drop it */
    q->overflow++;
    return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
  }
  q->ring[q->tail % RING] = (struct held){ id, now_ns() + q->delay_ns };
  q->tail++;
  return 0;
}

/* Lets go every packet whose time has come (all of them with all=1); returns the next due time, 0 if none. */
static uint64_t release(int all) {
  uint64_t now = now_ns() + early_ns, next = 0;
  for (int i = 0; i < nqueues; i++) {
    struct queue *q = &queues[i];
    uint32_t last = 0; int any = 0;
    while (q->head != q->tail && (all || q->ring[q->head % RING].due_ns <= now)) {
      last = q->ring[q->head % RING].id; any = 1;
      q->head++; q->released++;
    }
    if (any) nfq_set_verdict_batch(q->qh, last, NF_ACCEPT);
    if (q->head != q->tail) {
      uint64_t due = q->ring[q->head % RING].due_ns;
      if (!next || due < next) next = due;
    }
  }
  return next;
}

static void on_signal(int sig) { (void)sig; stop = 1; }

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The median lateness of 101 timed waits of 200 us, as the main loop waits (ppoll), capped at 200 us. */
static uint64_t wakeup_lateness_ns(void) {
  uint64_t late[101];
  for (int i = 0; i < 101; i++) {
    struct timespec ts = { 0, 200000 };
    uint64_t t0 = now_ns();
    ppoll(NULL, 0, &ts, NULL);
    uint64_t slept = now_ns() - t0;
    late[i] = slept > 200000 ? slept - 200000 : 0;
  }
  qsort(late, 101, sizeof late[0], cmp_u64);
  return late[50] < 200000 ? late[50] : 200000;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s QUEUE:MICROSECONDS...\n", argv[0]);
    return 2;
  }
  struct nfq_handle *h = nfq_open();
  if (!h) { perror("netdelay: nfq_open"); return 1; }
  nfq_unbind_pf(h, AF_INET); /* old kernels need the bind; new ones ignore both */
  nfq_bind_pf(h, AF_INET);
  for (int i = 1; i < argc && nqueues < MAX_QUEUES; i++) {
    unsigned num; double us;
    if (sscanf(argv[i], "%u:%lf", &num, &us) != 2 || us < 0) {
      fprintf(stderr, "netdelay: bad argument %s (QUEUE:MICROSECONDS)\n", argv[i]);
      return 2;
    }
    struct queue *q = &queues[nqueues++];
    q->num = (uint16_t)num;
    q->delay_ns = (uint64_t)(us * 1000.0);
    q->ring = calloc(RING, sizeof *q->ring);
    q->qh = nfq_create_queue(h, q->num, on_packet, q);
    if (!q->ring || !q->qh) { fprintf(stderr, "netdelay: cannot bind queue %u: %s\n", num, strerror(errno)); return 1; }
    if (nfq_set_mode(q->qh, NFQNL_COPY_META, 0) < 0) { perror("netdelay: nfq_set_mode"); return 1; }
    nfq_set_queue_maxlen(q->qh, RING);
    nfq_set_queue_flags(q->qh, NFQA_CFG_F_GSO, NFQA_CFG_F_GSO);
  }
  int fd = nfq_fd(h);
  nfnl_rcvbufsiz(nfq_nfnlh(h), 16 << 20);
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
  /* Release on time: no timer slack, and ahead of the PHP and database processes whose packets it holds (the
     kernel's RT throttling still leaves them 5% of each CPU if this ever spun). */
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  struct sched_param sp = { .sched_priority = 10 };
  if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0) fprintf(stderr, "netdelay: no SCHED_FIFO (%s); running at normal priority\n", strerror(errno));
  early_ns = wakeup_lateness_ns();
  struct sigaction sa = { .sa_handler = on_signal };
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  fprintf(stderr, "netdelay: holding");
  for (int i = 0; i < nqueues; i++) fprintf(stderr, " queue %u %.1f us;", queues[i].num, queues[i].delay_ns / 1000.0);
  fprintf(stderr, " timed wake-ups come %.1f us late: released that much early\n", early_ns / 1000.0);

  static char buf[1 << 16] __attribute__((aligned));
  while (!stop) {
    uint64_t next = release(0);
    struct timespec ts, *tsp = NULL;
    if (next) {
      uint64_t now = now_ns() + early_ns, wait = next > now ? next - now : 0;
      ts.tv_sec = (time_t)(wait / 1000000000u);
      ts.tv_nsec = (long)(wait % 1000000000u);
      tsp = &ts;
    }
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r = ppoll(&p, 1, tsp, NULL);
    if (r < 0 && errno != EINTR) { perror("netdelay: ppoll"); break; }
    if (r > 0 && (p.revents & POLLIN)) {
      for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) { nfq_handle_packet(h, buf, (int)n); continue; }
        if (n < 0 && errno == EINTR) continue;
        break; /* EAGAIN: drained */
      }
    }
  }
  release(1);
  for (int i = 0; i < nqueues; i++) {
    fprintf(stderr, "netdelay: queue %u released %llu packets (%llu let through at once: ring full)\n", queues[i].num,
            (unsigned long long)queues[i].released, (unsigned long long)queues[i].overflow);
    nfq_destroy_queue(queues[i].qh);
  }
  nfq_close(h);
  return 0;
}
