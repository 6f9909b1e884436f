/* The CUDA backend's small kernels, on the host: every index of every
 * kernel body in cuda_elementwise.h, visited as the GPU's grid visits them,
 * against the CPU backend's op on the same data. The maths is the same
 * code, so the results must be the same bits (the GPU build adds only
 * --fmad=false, which makes it round like this). */
#include "kernels/image/colour.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/backend/cuda_elementwise.h"
#include "backend_test_util.h"
#include "layer_test_util.h"

static ax_backend *be;
static arena mem;

/* The launch as the GPU runs it: ax_ew_blocks (n) blocks of AX_EW_THREADS
 * threads, thread t of block b taking index b * AX_EW_THREADS + t, and the
 * indices past n doing nothing. The body runs once per index below n. */
#define GRID_FOR(i, n)                                                    \
  for (unsigned b_ = 0; b_ < ax_ew_blocks (n); b_++)                      \
    for (unsigned t_ = 0; t_ < AX_EW_THREADS; t_++)                       \
      for (size_t i = (size_t) b_ * AX_EW_THREADS + t_; i < (n); i = (n))

static ax_kernel *
prepare (ax_op op)
{
  ax_kernel *k = NULL;
  CHECK_OK (be, ax_kernel_prepare (be, &op, &k));
  return k;
}

static float *
random_floats (size_t n, float lo, float hi)
{
  float *v = malloc (n * sizeof *v);
  for (size_t i = 0; i < n; i++)
    v[i] = (float) (lo + (hi - lo) * ax_rng_uniform (&test_rng));
  return v;
}

static ax_tensor
tensor_of (ax_shape s, const float *v)
{
  ax_tensor t = arena_tensor (&mem, s, AX_F32);
  if (v)
    CHECK_OK (be, ax_tensor_upload (&t, v, ax_shape_count (s) * sizeof *v));
  return t;
}

static float *
download (const ax_tensor *t)
{
  size_t n = ax_shape_count (t->shape);
  float *v = calloc (n, sizeof *v);
  CHECK_OK (be, ax_tensor_download (v, n * sizeof *v, t));
  return v;
}

static int
same_bits (const float *a, const float *b, size_t n)
{
  return memcmp (a, b, n * sizeof *a) == 0;
}

/* The grid covers every index exactly once, whatever n is. */
static void
test_grid (void)
{
  size_t sizes[] = { 1, 255, 256, 257, 1000, 4097 };
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t n = sizes[s], visits = 0, bad = 0;
    unsigned char *seen = calloc (n, 1);
    GRID_FOR (i, n) {
      visits++;
      bad += seen[i]++ != 0;
    }
    AX_CHECK (visits == n && bad == 0, "n %zu: %zu visits", n, visits);
    free (seen);
  }
}

static void
test_fill_axpy_count (void)
{
  ax_shape s = ax_shape_make (3, 7, 5, 11);
  size_t n = ax_shape_count (s);
  arena_reset (&mem);
  float *x = random_floats (n, -2, 2), *y = random_floats (n, -2, 2);
  ax_tensor tx = tensor_of (s, x), ty = tensor_of (s, y);
  CHECK_OK (be, ax_tensor_axpy (&ty, -0.37f, &tx));
  float *cpu = download (&ty);
  GRID_FOR (i, n)
    ax_ew_axpy (i, y, -0.37f, x);
  AX_CHECK (same_bits (y, cpu, n), "axpy: the CPU's bits");
  CHECK_OK (be, ax_tensor_fill (&ty, 0.625f));
  free (cpu);
  cpu = download (&ty);
  GRID_FOR (i, n)
    ax_ew_fill (i, y, 0.625f);
  AX_CHECK (same_bits (y, cpu, n), "fill");
  /* The count the kernel sums. */
  x[3] = NAN;
  x[n - 1] = INFINITY;
  x[100] = -INFINITY;
  size_t bad = 0;
  GRID_FOR (i, n)
    bad += ax_ew_nonfinite (i, x);
  AX_CHECK (bad == 3, "%zu non-finite, expected 3", bad);
  free (x); free (y); free (cpu);
}

static void
test_dropout (void)
{
  ax_shape s = ax_shape_make (5, 1000, 1, 1);   /* not a multiple of 256 */
  size_t n = ax_shape_count (s);
  float rates[] = { 0.5f, 0.1f, 0.0f };
  for (int r = 0; r < 3; r++) {
    ax_dropout_params p = { rates[r], 6 };
    /* a replica's shard: masks from index0 on (the second rate) */
    uint64_t index0 = r == 1 ? 123457 : 0;
    ax_kernel *k = prepare ((ax_op) { .type = AX_OP_DROPOUT, .in = s,
          .p.dropout = p, .index0 = index0 });
    if (!k)
      return;
    arena_reset (&mem);
    float *x = random_floats (n, -1, 1), *d = random_floats (n, -1, 1);
    float *gpu = calloc (n, sizeof *gpu);
    ax_tensor tx = tensor_of (s, x), ty = tensor_of (s, NULL);
    ax_tensor td = tensor_of (s, d), tdx = tensor_of (s, NULL);
    CHECK_OK (be, ax_dropout_forward (k, &ty, &tx, 42, 9));
    CHECK_OK (be, ax_dropout_backward (k, &tdx, &td, 42, 9));
    float *fwd = download (&ty), *bwd = download (&tdx);
    uint64_t key = ax_dropout_key (42, 9, p.stream);
    uint32_t threshold = ax_dropout_threshold (p.p);
    float scale = ax_dropout_scale (p.p);
    GRID_FOR (i, n)
      ax_ew_dropout (i, gpu, x, key, index0, threshold, scale);
    AX_CHECK (same_bits (gpu, fwd, n), "dropout p=%g forward", (double) p.p);
    GRID_FOR (i, n)
      ax_ew_dropout (i, gpu, d, key, index0, threshold, scale);
    AX_CHECK (same_bits (gpu, bwd, n), "dropout p=%g backward", (double) p.p);
    ax_kernel_release (k);
    free (x); free (d); free (gpu); free (fwd); free (bwd);
  }
}

/* Runs the row kernel over every row; returns the OR of the flags. */
static unsigned
softmax_rows (float *probs, float *losses, const float *logits,
    const int32_t *labels, int rows, int classes)
{
  unsigned flags = 0;
  GRID_FOR (r, (size_t) rows)
    flags |= ax_ew_softmax_row ((int) r, probs, losses, logits, labels,
        classes);
  return flags;
}

static void
test_softmax_xent (void)
{
  enum { N = 7, C = 300 };
  ax_shape s = ax_shape_make (N, C, 1, 1), per = ax_shape_make (N, 1, 1, 1);
  ax_kernel *k = prepare ((ax_op) { .type = AX_OP_SOFTMAX_XENT, .in = s });
  if (!k)
    return;
  arena_reset (&mem);
  float *x = random_floats (N * C, -8, 8), probs[N * C], losses[N];
  float dl[N * C];
  int32_t labels[N] = { 0, 299, 5, 5, 17, 100, 250 };
  ax_tensor tx = tensor_of (s, x), tp = tensor_of (s, NULL);
  ax_tensor tl = tensor_of (per, NULL), td = tensor_of (s, NULL);
  ax_tensor lab = arena_tensor (&mem, per, AX_I32);
  CHECK_OK (be, ax_tensor_upload (&lab, labels, sizeof labels));
  CHECK_OK (be, ax_softmax_xent_forward (k, &tl, &tp, &tx, &lab));
  CHECK_OK (be, ax_softmax_xent_backward (k, &td, &tp, &lab, 1.0f / N));
  float *cpu_p = download (&tp), *cpu_l = download (&tl);
  float *cpu_d = download (&td);
  AX_CHECK (softmax_rows (probs, losses, x, labels, N, C) == 0, "no flags");
  AX_CHECK (same_bits (probs, cpu_p, N * C), "probabilities");
  AX_CHECK (same_bits (losses, cpu_l, N), "losses");
  unsigned flags = 0;
  GRID_FOR (i, (size_t) N * C)
    flags |= ax_ew_softmax_grad (i, dl, probs, labels, C, 1.0f / N);
  AX_CHECK (flags == 0 && same_bits (dl, cpu_d, N * C), "gradient");

  /* What the flags say, against the CPU backend's statuses. */
  labels[3] = C;
  CHECK_OK (be, ax_tensor_upload (&lab, labels, sizeof labels));
  AX_CHECK (ax_softmax_xent_forward (k, &tl, &tp, &tx, &lab)
      == AX_ERR_INVALID_ARG, "CPU: label out of range");
  AX_CHECK (softmax_rows (probs, losses, x, labels, N, C) == AX_EW_BAD_LABEL,
      "bad label flagged");
  flags = 0;
  GRID_FOR (i, (size_t) N * C)
    flags |= ax_ew_softmax_grad (i, dl, probs, labels, C, 1.0f);
  AX_CHECK (flags == AX_EW_BAD_LABEL, "bad label flagged in backward");
  labels[3] = -1;
  AX_CHECK (softmax_rows (probs, losses, x, labels, N, C) == AX_EW_BAD_LABEL,
      "negative label flagged");
  labels[3] = 5;
  x[2 * C + 7] = NAN;
  AX_CHECK (softmax_rows (probs, losses, x, labels, N, C) == AX_EW_BAD_LOGIT,
      "NaN logit flagged");
  /* Finite logits whose loss overflows: -3e38 - 3e38 is -inf. */
  x[2 * C + 7] = 3e38f;
  x[2 * C + labels[2]] = -3e38f;
  AX_CHECK (softmax_rows (probs, losses, x, labels, N, C) == AX_EW_BAD_LOSS,
      "infinite loss flagged");
  CHECK_OK (be, ax_tensor_upload (&lab, labels, sizeof labels));
  CHECK_OK (be, ax_tensor_upload (&tx, x, sizeof (float) * N * C));
  AX_CHECK (ax_softmax_xent_forward (k, &tl, &tp, &tx, &lab)
      == AX_ERR_NONFINITE, "CPU: infinite loss");
  ax_kernel_release (k);
  free (x); free (cpu_p); free (cpu_l); free (cpu_d);
}

static void
test_sgd (void)
{
  ax_shape s = ax_shape_make (1000, 3, 1, 1);
  size_t n = ax_shape_count (s);
  ax_kernel *k = prepare ((ax_op) { .type = AX_OP_SGD, .in = s });
  if (!k)
    return;
  arena_reset (&mem);
  float *w = random_floats (n, -1, 1), *v = random_floats (n, -0.1f, 0.1f);
  float *g = random_floats (n, -3, 3);
  ax_tensor tw = tensor_of (s, w), tv = tensor_of (s, v), tg = tensor_of (s, g);
  ax_sgd_step step = { 0.01f, 0.9f, 0.0005f };
  for (int rep = 0; rep < 3; rep++) {
    CHECK_OK (be, ax_sgd_update (k, &tw, &tv, &tg, &step));
    GRID_FOR (i, n)
      ax_ew_sgd (i, w, v, g, step.lr, step.momentum, step.weight_decay);
  }
  float *cw = download (&tw), *cv = download (&tv);
  AX_CHECK (same_bits (w, cw, n) && same_bits (v, cv, n),
      "three SGD steps: the CPU's bits");
  ax_kernel_release (k);
  free (w); free (v); free (g); free (cw); free (cv);
}

static void
test_bias_rows (void)
{
  enum { N = 5, O = 300 };
  float *out = random_floats (N * O, -1, 1), *b = random_floats (O, -1, 1);
  float want[N * O];
  for (int r = 0; r < N; r++)
    for (int o = 0; o < O; o++)
      want[r * O + o] = out[r * O + o] + b[o];
  GRID_FOR (i, (size_t) N * O)
    ax_ew_bias_rows (i, out, b, O);
  AX_CHECK (same_bits (out, want, N * O), "bias added to every row");
  free (out);
  free (b);
}

/* The adaptive pool's window (layer_math.h) is PyTorch's, [floor(i m / n),
 * ceil((i + 1) m / n)), for every cell of every pair of sizes up to 40,
 * and turned round it is exactly the set of output cells whose windows
 * hold an input cell (what the gradient kernel gathers). */
static void
test_adaptive_windows (void)
{
  int wrong = 0, wrong_back = 0;
  for (int n = 1; n <= 40; n++)
    for (int m = 1; m <= 40; m++) {
      for (int i = 0; i < n; i++) {
        int lo, hi;
        ax_adaptive_window (i, n, m, &lo, &hi);
        wrong += lo != (int) floor ((double) i * m / n)
            || hi != (int) ceil ((double) (i + 1) * m / n)
            || lo < 0 || hi > m || hi <= lo;
      }
      for (int j = 0; j < m; j++) {
        int lo, hi;
        ax_adaptive_window (j, m, n, &lo, &hi);
        for (int i = 0; i < n; i++) {
          int y0, y1;
          ax_adaptive_window (i, n, m, &y0, &y1);
          wrong_back += (y0 <= j && j < y1) != (lo <= i && i < hi);
        }
      }
    }
  AX_CHECK (wrong == 0, "%d windows are not PyTorch's", wrong);
  AX_CHECK (wrong_back == 0, "%d cells: the turned-round window is not the "
      "outputs that read them", wrong_back);
}

/* The pool's kernels over the GPU's grid against the CPU backend's loop:
 * the same bits, forward (one thread per output cell) and backward (one
 * per input cell), down, up and the identity. */
static void
test_avgpool (void)
{
  static const struct { ax_shape in; int oh, ow; } cases[] = {
    { { 2, 5, 10, 10 }, 7, 7 }, { { 3, 4, 13, 9 }, 6, 4 },
    { { 2, 6, 1, 1 }, 7, 7 }, { { 2, 5, 2, 2 }, 7, 7 },
    { { 2, 3, 3, 5 }, 7, 7 }, { { 2, 8, 6, 6 }, 6, 6 },
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    ax_shape in = cases[c].in;
    int oh = cases[c].oh, ow = cases[c].ow;
    ax_shape out = ax_shape_make (in.n, in.c, oh, ow);
    ax_kernel *k = prepare ((ax_op) { .type = AX_OP_AVGPOOL, .in = in,
          .p.avgpool = { oh, ow } });
    if (!k)
      return;
    size_t n_in = ax_shape_count (in), n_out = ax_shape_count (out);
    arena_reset (&mem);
    float *x = random_floats (n_in, -1, 1), *d = random_floats (n_out, -1, 1);
    float *y = calloc (n_out, sizeof *y), *dx = calloc (n_in, sizeof *dx);
    ax_tensor tx = tensor_of (in, x), ty = tensor_of (out, NULL);
    ax_tensor td = tensor_of (out, d), tdx = tensor_of (in, NULL);
    CHECK_OK (be, ax_avgpool_forward (k, &ty, &tx));
    CHECK_OK (be, ax_avgpool_backward (k, &tdx, &td));
    float *fwd = download (&ty), *bwd = download (&tdx);
    GRID_FOR (i, n_out)
      ax_ew_avgpool (i, y, x, in.h, in.w, oh, ow);
    GRID_FOR (i, n_in)
      ax_ew_avgpool_grad (i, dx, d, in.h, in.w, oh, ow);
    AX_CHECK (same_bits (y, fwd, n_out), "avgpool %dx%d -> %dx%d forward: "
        "the CPU's bits", in.h, in.w, oh, ow);
    AX_CHECK (same_bits (dx, bwd, n_in), "avgpool %dx%d -> %dx%d backward: "
        "the CPU's bits", in.h, in.w, oh, ow);
    /* the gradient's sum is the output gradient's: every output cell
     * hands all of its gradient out, whatever the overlaps */
    double sd = 0.0, sdx = 0.0;
    for (size_t i = 0; i < n_out; i++)
      sd += d[i];
    for (size_t i = 0; i < n_in; i++)
      sdx += dx[i];
    AX_CHECK (fabs (sd - sdx) < 1e-4 * (1.0 + fabs (sd)), "avgpool %dx%d -> "
        "%dx%d: gradient sums %g and %g", in.h, in.w, oh, ow, sd, sdx);
    ax_kernel_release (k);
    free (x); free (d); free (y); free (dx); free (fwd); free (bwd);
  }
}

static const double eigval[3] = { 0.2175, 0.0188, 0.0045 };
static const double eigvec[3][3] = {
  { -0.5675, 0.7192, 0.4009 },
  { -0.5808, -0.0045, -0.8140 },
  { -0.5836, -0.6948, 0.4203 },
};

/* Colour noise against kernels/image/colour.c on images with padded rows (the
 * padding must stay as it was), small and large offsets (clamping). */
static void
test_colour_noise (void)
{
  int sizes[][2] = { { 1, 1 }, { 7, 3 }, { 224, 224 }, { 33, 17 } };
  double sigmas[] = { 0.1, 5.0, 0.0 };
  for (int s = 0; s < 4; s++)
    for (int t = 0; t < 3; t++) {
      int w = sizes[s][0], h = sizes[s][1];
      size_t stride = (size_t) w * 3 + 5, bytes = stride * h;
      uint8_t *cpu = malloc (bytes), *gpu = malloc (bytes);
      for (size_t i = 0; i < bytes; i++)
        cpu[i] = (uint8_t) ax_rng_u64 (&test_rng);
      memcpy (gpu, cpu, bytes);
      double alpha[3];
      for (int c = 0; c < 3; c++)
        alpha[c] = sigmas[t] * ax_rng_normal (&test_rng);
      ax_pca_jitter_rgb (cpu, w, h, stride, alpha, eigval, eigvec);
      /* As cuda_loader.c rounds them, once per image. */
      int off[3];
      for (int c = 0; c < 3; c++)
        off[c] = ax_colour_round_offset (ax_colour_offset (c, alpha, eigval,
                eigvec));
      size_t n = (size_t) w * 3 * h;
      GRID_FOR (i, n)
        ax_ew_colour_noise (i, gpu, (size_t) w * 3, stride, off[0], off[1],
            off[2]);
      AX_CHECK (memcmp (cpu, gpu, bytes) == 0, "%dx%d, sigma %g: the CPU's "
          "bytes (offsets %d %d %d)", w, h, sigmas[t], off[0], off[1],
          off[2]);
      free (cpu);
      free (gpu);
    }
}

int
main (void)
{
  ax_rng_seed (&test_rng, 2024);
  if (ax_cpu_backend_create (2, &be) != AX_OK
      || !arena_init (&mem, be, 8 << 20))
    return 1;
  AX_RUN (test_grid);
  AX_RUN (test_fill_axpy_count);
  AX_RUN (test_dropout);
  AX_RUN (test_softmax_xent);
  AX_RUN (test_sgd);
  AX_RUN (test_bias_rows);
  AX_RUN (test_adaptive_windows);
  AX_RUN (test_avgpool);
  AX_RUN (test_colour_noise);
  ax_slab_free (&mem.slab);
  ax_backend_destroy (be);
  return ax_test_finish ();
}
