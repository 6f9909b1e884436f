/* The paper's AlexNet at 224x224 on this machine's CPU: training images/s
 * (forward, loss, backward, update) at batch 128, inference images/s at
 * batch 64 and batch-1 latency, for both placements, next to PyTorch
 * (bench/torch_alexnet_bench.py, run from here in the same run) with ratios
 * and the fraction of fp32 peak.
 *
 *   build/bench/train_bench [--reps N] [--peak GFLOPS] [--no-torch]
 *       [--profile] [--torch "python3 bench/torch_alexnet_bench.py"]
 *
 * With --arch, one measurement of one net (one device) in this process,
 * for bench/vgg_bench.sh: the training step (ax_trainer_net_step) at
 * --batch, or with --infer a forward-only net's forward pass (the logits
 * left in its host slab); prints "key value" lines (images_per_s,
 * max_rss_kb: this process's peak resident memory, ...):
 *
 *   build/bench/train_bench --arch vgg16 [--batch 32] [--size 224]
 *       [--narrow D] [--threads T] [--warmup W] [--reps N] [--infer]
 */
#include "kernels/cpu/cpu_backend.h"
#include "kernels/nn/net.h"
#include "kernels/nn/trainer.h"

#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/* Forward multiply-adds x 2 per image, from the spec's shapes. */
static double
forward_flops (ax_net *net)
{
  const ax_net_spec *s = ax_net_get_spec (net);
  double flops = 0.0;
  for (int p = 0; p < ax_net_n_params (net); p++) {
    const ax_param_info *w = ax_net_param (net, p);
    ax_shape out;
    if (w->is_buffer || w->ndim < 2)
      continue;                 /* biases, batch norm: no multiply-adds */
    if (ax_net_activation_shape (net, s->layers[w->layer].name, &out) != AX_OK)
      return 0.0;
    flops += 2.0 * (double) w->count * out.h * out.w;
  }
  return flops;
}

/* CPU seconds of this process (all threads): on a shared machine, images
 * per CPU-second is steadier than images per second. */
static double
cpu_now (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return (double) ru.ru_utime.tv_sec + 1e-6 * (double) ru.ru_utime.tv_usec
      + (double) ru.ru_stime.tv_sec + 1e-6 * (double) ru.ru_stime.tv_usec;
}

typedef struct {
  double train_ips, infer_ips, latency_ms, gflop_fwd;
  double train_cpu_ips, infer_cpu_ips;  /* images per CPU-second */
} result;

static double last_cpu_s;

static ax_backend *one, *tower[2];

static ax_net *
make (const ax_net_spec *spec, int batch, ax_placement place, int training)
{
  ax_net_config cfg = { batch, place, training, { one, NULL } };
  if (place == AX_PLACE_TOWERS) {
    cfg.backends[0] = tower[0];
    cfg.backends[1] = tower[1];
  }
  ax_net *net = NULL;
  char err[512];
  ax_status st = ax_net_create (spec, &cfg, &net, err, sizeof err);
  if (st != AX_OK) {
    fprintf (stderr, "create: %s: %s\n", ax_status_str (st), err);
    return NULL;
  }
  if ((st = ax_net_init (net, AX_INIT_PAPER, 1)) != AX_OK) {
    fprintf (stderr, "init: %s\n", ax_net_last_error (net));
    ax_net_destroy (net);
    return NULL;
  }
  return net;
}

static float *
images (size_t n)
{
  float *x = malloc (n * sizeof *x);
  for (size_t i = 0; x && i < n; i++)
    x[i] = (float) ((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
  return x;
}

static int warmups = 1;          /* untimed calls before the timed ones */

/* Seconds per call of `what` (1 the trainer's step, 0 inference) over
 * reps, after `warmups` untimed calls. */
static double
time_net (ax_net *net, int batch, int train, int reps)
{
  const ax_net_spec *s = ax_net_get_spec (net);
  size_t n = (size_t) batch * s->in_c * s->in_h * s->in_w;
  float *x = images (n);
  int32_t *labels = malloc ((size_t) batch * sizeof *labels);
  ax_sgd_step sgd = { 0.01f, 0.9f, 0.0005f };
  ax_trainer_result step;
  ax_status st = x && labels ? AX_OK : AX_ERR_NO_MEMORY;
  double t0 = 0.0, c0 = 0.0;
  for (int i = 0; i < batch && labels; i++)
    labels[i] = i % s->n_classes;
  for (int r = 0; r < warmups + reps && st == AX_OK; r++) {
    if (r == warmups) {
      t0 = now ();
      c0 = cpu_now ();
    }
    st = train ? ax_trainer_net_step (net, x, labels, batch, &sgd, NULL,
        &step) : ax_net_forward (net, x, n, 0);
  }
  double dt = (now () - t0) / reps;
  last_cpu_s = (cpu_now () - c0) / reps;
  if (st != AX_OK)
    fprintf (stderr, "run: %s\n", ax_net_last_error (net));
  free (x);
  free (labels);
  return st == AX_OK ? dt : -1.0;
}

/* Where one training step's time goes, per layer (tower 0's clock; with
 * towers the exchanges' waits are in the layer that gathers). */
static void
print_profile (ax_net *net, const char *what, int batch, int train)
{
  const ax_net_spec *s = ax_net_get_spec (net);
  double total_f = 0.0, total_b = 0.0;
  ax_net_set_profiling (net, 1);
  if (time_net (net, batch, train, 1) < 0.0)
    return;
  printf ("where a %s's time goes (%s, batch %d, tower 0, ms):\n",
      train ? "training step" : "forward pass", what, batch);
  for (int i = 0; i < s->n_layers; i++) {
    double f, b;
    if (ax_net_profile (net, i, 0, &f, &b) != AX_OK)
      return;
    /* time_net ran the warm-ups and one timed step: ms per step */
    f *= 1e3 / (warmups + 1);
    b *= 1e3 / (warmups + 1);
    total_f += f;
    total_b += b;
    if (f + b >= 1.0)
      printf ("  %-8s %8.1f fwd %8.1f bwd\n", s->layers[i].name, f, b);
  }
  printf ("  %-8s %8.1f fwd %8.1f bwd\n", "total", total_f, total_b);
  ax_net_set_profiling (net, 0);
}

static int show_profile;
/* --conv-algo: the CPU backends' ax_conv_algo (auto, direct, winograd) */
static ax_conv_algo conv_algo = AX_CONV_ALGO_AUTO;

static result
run_ours (ax_placement place, int reps)
{
  result r = { 0, 0, 0, 0, 0, 0 };
  ax_net_spec spec;
  ax_net_spec_alexnet_paper (&spec, 1000, 224);
  ax_net *net = make (&spec, 128, place, 1);
  if (net) {
    r.gflop_fwd = forward_flops (net) / 1e9;
    r.train_ips = 128 / time_net (net, 128, 1, reps);
    r.train_cpu_ips = 128 / last_cpu_s;
    if (show_profile)
      print_profile (net, place == AX_PLACE_ONE ? "one device" : "towers",
          128, 1);
    ax_net_destroy (net);
  }
  if ((net = make (&spec, 64, place, 0))) {
    r.infer_ips = 64 / time_net (net, 64, 0, reps * 2);
    r.infer_cpu_ips = 64 / last_cpu_s;
    ax_net_destroy (net);
  }
  if ((net = make (&spec, 1, place, 0))) {
    r.latency_ms = 1e3 * time_net (net, 1, 0, reps * 20);
    ax_net_destroy (net);
  }
  return r;
}

/* This process's resident memory now (VmRSS, kB; -1 if unknown). */
static long
rss_now_kb (void)
{
  FILE *f = fopen ("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets (line, sizeof line, f))
    if (sscanf (line, "VmRSS: %ld", &kb) == 1)
      break;
  if (f)
    fclose (f);
  return kb;
}

/* --arch: one net on one device, one measurement; "key value" lines for
 * bench/vgg_bench.sh, the peak resident memory of this process last. */
typedef struct {
  const char *arch;
  int batch, size, narrow, threads, infer;
} single_opts;

static int
run_single (const single_opts *o, int reps)
{
  ax_net_spec spec;
  ax_status st = ax_net_spec_by_arch (&spec, o->arch, 1000, o->size);
  if (st == AX_OK && o->narrow > 1)
    st = ax_net_spec_narrow (&spec, o->narrow);
  if (st != AX_OK || o->batch < 1 || o->threads < 0
      || ax_cpu_backend_create (o->threads, &one) != AX_OK) {
    fprintf (stderr, "train_bench: --arch %s --size %d --narrow %d --batch %d "
        "--threads %d: %s\n", o->arch, o->size, o->narrow, o->batch,
        o->threads, st != AX_OK ? "no such architecture (ax_net_spec_by_arch), "
        "or widths the divisor does not divide" : "bad batch, threads, or no "
        "CPU backend");
    return 1;
  }
  ax_cpu_backend_set_conv_algo (one, conv_algo);
  printf ("conv_algo %s\n", ax_conv_algo_name (conv_algo));
  ax_net *net = make (&spec, o->batch, AX_PLACE_ONE, !o->infer);
  long created_kb = rss_now_kb ();
  double dt = net ? time_net (net, o->batch, !o->infer, reps) : -1.0;
  if (dt > 0.0 && show_profile)
    print_profile (net, spec.arch, o->batch, !o->infer);
  if (dt > 0.0) {
    const dnnl_version_t *v = dnnl_version ();
    printf ("arch %s\nmode %s\nbatch %d\nthreads %d\n", spec.arch,
        o->infer ? "infer" : "train", o->batch, ax_cpu_backend_threads (one));
    printf ("onednn %d.%d.%d\n", v->major, v->minor, v->patch);
    printf ("gflop_fwd %.3f\n", forward_flops (net) / 1e9);
    printf ("net_mib %.1f\n", (double) ax_net_memory_bytes (net) / 1048576.0);
    printf ("created_rss_kb %ld\n", created_kb);
    printf ("seconds_per_batch %.4f\n", dt);
    printf ("images_per_s %.3f\n", o->batch / dt);
    printf ("cpu_images_per_s %.3f\n", o->batch / last_cpu_s);
  }
  ax_net_destroy (net);
  ax_backend_destroy (one);
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  printf ("max_rss_kb %ld\n", ru.ru_maxrss);
  return dt > 0.0 ? 0 : 1;
}

static int
run_torch (const char *cmd, int reps, result *r)
{
  char line[256], full[1024];
  snprintf (full, sizeof full, "%s --reps %d", cmd, reps);
  FILE *p = popen (full, "r");
  if (!p)
    return 0;
  int got = 0;
  while (fgets (line, sizeof line, p)) {
    got += sscanf (line, "train_ips %lf", &r->train_ips);
    got += sscanf (line, "infer_ips %lf", &r->infer_ips);
    got += sscanf (line, "latency_ms %lf", &r->latency_ms);
    got += sscanf (line, "train_cpu_ips %lf", &r->train_cpu_ips);
    got += sscanf (line, "infer_cpu_ips %lf", &r->infer_cpu_ips);
  }
  return pclose (p) == 0 && got == 5;
}

int
main (int argc, char **argv)
{
  int reps = 2, with_torch = 1;
  double peak = 200.0;
  const char *torch_cmd = "/usr/bin/python3 bench/torch_alexnet_bench.py";
  single_opts single = { NULL, 32, 224, 1, 0, 0 };
  for (int i = 1; i < argc; i++) {
    if (!strcmp (argv[i], "--reps") && i + 1 < argc)
      reps = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--peak") && i + 1 < argc)
      peak = atof (argv[++i]);
    else if (!strcmp (argv[i], "--torch") && i + 1 < argc)
      torch_cmd = argv[++i];
    else if (!strcmp (argv[i], "--no-torch"))
      with_torch = 0;
    else if (!strcmp (argv[i], "--profile"))
      show_profile = 1;
    else if (!strcmp (argv[i], "--warmup") && i + 1 < argc)
      warmups = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--arch") && i + 1 < argc)
      single.arch = argv[++i];
    else if (!strcmp (argv[i], "--batch") && i + 1 < argc)
      single.batch = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--size") && i + 1 < argc)
      single.size = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--narrow") && i + 1 < argc)
      single.narrow = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--threads") && i + 1 < argc)
      single.threads = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--infer"))
      single.infer = 1;
    else if (!strcmp (argv[i], "--conv-algo") && i + 1 < argc) {
      int a = ax_conv_algo_parse (argv[++i]);
      if (a < 0) {
        fprintf (stderr, "train_bench: --conv-algo %s: want auto, direct or "
            "winograd\n", argv[i]);
        return 1;
      }
      conv_algo = (ax_conv_algo) a;
    }
  }
  if (single.arch && reps >= 1 && warmups >= 0)
    return run_single (&single, reps);
  if (reps < 1 || warmups < 0 || ax_cpu_backend_create (0, &one) != AX_OK
      || ax_cpu_backend_create (1, &tower[0]) != AX_OK
      || ax_cpu_backend_create (1, &tower[1]) != AX_OK) {
    fprintf (stderr, "usage: train_bench [--reps N >= 1] [--warmup W >= 0]; "
        "or no CPU backend\n");
    return 1;
  }
  ax_cpu_backend_set_conv_algo (one, conv_algo);
  ax_cpu_backend_set_conv_algo (tower[0], conv_algo);
  ax_cpu_backend_set_conv_algo (tower[1], conv_algo);
  result ours[2] = { run_ours (AX_PLACE_ONE, reps), run_ours (AX_PLACE_TOWERS, reps) };
  result torch = { 0, 0, 0, 0, 0, 0 };
  int have_torch = with_torch && run_torch (torch_cmd, reps, &torch);
  double gf = ours[0].gflop_fwd;
  printf ("AlexNet (paper, two towers, LRN), 224x224, 1000 classes, fp32, "
      "%d threads; forward %.2f GFLOP/image, training ~3x; peak %.0f GFLOP/s\n",
      ax_cpu_backend_threads (one), gf, peak);
  printf ("%-22s %14s %14s %14s\n", "", "train b128", "infer b64", "latency b1");
  printf ("%-22s %14s %14s %14s\n", "", "images/s", "images/s", "ms");
  const char *names[2] = { "ours, one device", "ours, two towers" };
  for (int p = 0; p < 2; p++) {
    printf ("%-22s %14.1f %14.1f %14.2f\n", names[p], ours[p].train_ips,
        ours[p].infer_ips, ours[p].latency_ms);
    printf ("%-22s %14.1f %14.1f\n", "  per CPU-second", ours[p].train_cpu_ips,
        ours[p].infer_cpu_ips);
    printf ("%-22s %13.0f%% %13.0f%% %13.0f%%\n", "  of fp32 peak",
        100.0 * ours[p].train_ips * 3 * gf / peak,
        100.0 * ours[p].infer_ips * gf / peak,
        100.0 * gf / (ours[p].latency_ms * 1e-3) / peak);
  }
  ax_backend_destroy (tower[0]);
  ax_backend_destroy (tower[1]);
  ax_backend_destroy (one);
  if (!have_torch) {
    printf ("PyTorch: not run (%s)\n", with_torch ? "failed" : "--no-torch");
    return 0;
  }
  printf ("%-22s %14.1f %14.1f %14.2f\n", "PyTorch 2 threads", torch.train_ips,
      torch.infer_ips, torch.latency_ms);
  printf ("%-22s %14.1f %14.1f\n", "  per CPU-second", torch.train_cpu_ips,
      torch.infer_cpu_ips);
  for (int p = 0; p < 2; p++)
    printf ("%-22s %13.2fx %13.2fx %13.2fx  (floors: >= 1.5x, >= 1.5x, "
        "<= 0.7x)\n", p ? "  towers / PyTorch" : "  one / PyTorch",
        ours[p].train_ips / torch.train_ips, ours[p].infer_ips / torch.infer_ips,
        ours[p].latency_ms / torch.latency_ms);
  for (int p = 0; p < 2; p++)
    printf ("%-22s %13.2fx %13.2fx  (per CPU-second)\n",
        p ? "  towers / PyTorch" : "  one / PyTorch",
        ours[p].train_cpu_ips / torch.train_cpu_ips,
        ours[p].infer_cpu_ips / torch.infer_cpu_ips);
  return 0;
}
