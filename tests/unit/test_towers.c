/* The paper's two towers (section 3.2) on two CPU backend instances give
 * the same numbers as one instance running grouped convolutions: conv2
 * style (each tower sees its own maps) and conv3 style (each tower reads
 * both towers' maps, exchanged by channel copies, and the gradients of
 * those maps are summed back across the towers), forward and backward. */
#include "kernels/cpu/cpu_backend.h"
#include "backend_test_util.h"
#include "layer_test_util.h"

#include <omp.h>

static ax_backend *one, *tower[2];
static arena mem_one, mem_tower[2];

#define TOL 5e-6  /* fp32 rounding: the two run different kernels */

static ax_kernel *
prepare (ax_backend *be, ax_shape in, ax_conv_params p)
{
  ax_op op = { .type = AX_OP_CONV, .in = in, .p.conv = p };
  ax_kernel *k = NULL;
  CHECK_OK (be, ax_kernel_prepare (be, &op, &k));
  return k;
}

/* A tensor on `a` holding the host values v (count of shape). */
static ax_tensor
tensor_with (arena *a, ax_shape s, const double *v)
{
  ax_tensor t = arena_tensor (a, s, AX_F32);
  CHECK_OK (a->be, upload_doubles (&t, v));
  return t;
}

static double
compare_tensors (const ax_tensor *a, const ax_tensor *b)
{
  size_t n = ax_shape_count (a->shape);
  double *x = new_zeros (n), *y = new_zeros (n);
  CHECK_OK (a->backend, download_doubles (x, a));
  CHECK_OK (b->backend, download_doubles (y, b));
  double err = ax_shape_equal (a->shape, b->shape)
      ? normalised_error (x, y, n) : INFINITY;
  free (x);
  free (y);
  return err;
}

/* conv2 style: in 16 maps, out 24 maps 5x5 pad 2, groups 2 (8 -> 12 per
 * tower); then conv3 style: 24 -> 16 maps 3x3 pad 1 reading both towers. */
enum { N = 2, C = 16, H = 9, W = 9, C2 = 24, C3 = 16 };

typedef struct {
  double *x, *w2, *b2, *dy, *w3, *dz;  /* host data shared by both runs */
  /* One device: */
  ax_tensor X, DY, Y, DX, DW2, DB2, Z, DZ, DY3, DW3;
  /* Two towers (DY3t: each tower's share of DY3 after the exchange): */
  ax_tensor Yt[2], DXt[2], DWt[2], DBt[2], Zt[2], DBOTH[2], DY3t[2], DW3t[2];
} towers_case;

static const ax_conv_params conv2 = { C2, 5, 5, 1, 2, 2, 1 };
static const ax_conv_params conv3 = { C3, 3, 3, 1, 1, 1, 0 };
static const size_t w2_half = (size_t) (C2 / 2) * (C / 2) * 25;
static const size_t w3_half = (size_t) (C3 / 2) * C2 * 9;

static void
run_one_device (towers_case *c)
{
  ax_shape x_shape = ax_shape_make (N, C, H, W), y_shape = ax_shape_make (N, C2, H, W);
  ax_kernel *k2 = prepare (one, x_shape, conv2), *k3 = prepare (one, y_shape, conv3);
  c->X = tensor_with (&mem_one, x_shape, c->x);
  c->DY = tensor_with (&mem_one, y_shape, c->dy);
  ax_tensor w2 = tensor_with (&mem_one, ax_shape_make (C2, C / 2, 5, 5), c->w2);
  ax_tensor b2 = tensor_with (&mem_one, ax_shape_make (C2, 1, 1, 1), c->b2);
  ax_tensor w3 = tensor_with (&mem_one, ax_shape_make (C3, C2, 3, 3), c->w3);
  c->Y = arena_tensor (&mem_one, y_shape, AX_F32);
  c->DX = arena_tensor (&mem_one, x_shape, AX_F32);
  c->DW2 = arena_tensor (&mem_one, w2.shape, AX_F32);
  c->DB2 = arena_tensor (&mem_one, b2.shape, AX_F32);
  c->Z = arena_tensor (&mem_one, ax_shape_make (N, C3, H, W), AX_F32);
  c->DZ = tensor_with (&mem_one, c->Z.shape, c->dz);
  c->DY3 = arena_tensor (&mem_one, y_shape, AX_F32);
  c->DW3 = arena_tensor (&mem_one, w3.shape, AX_F32);
  CHECK_OK (one, ax_tensor_fill (&c->DW2, 0.0f));
  CHECK_OK (one, ax_tensor_fill (&c->DB2, 0.0f));
  CHECK_OK (one, ax_tensor_fill (&c->DW3, 0.0f));
  CHECK_OK (one, ax_conv_forward (k2, &c->Y, &c->X, &w2, &b2));
  CHECK_OK (one, ax_conv_backward (k2, &c->DX, &c->DW2, &c->DB2, &c->DY, &c->X, &w2));
  CHECK_OK (one, ax_conv_forward (k3, &c->Z, &c->Y, &w3, NULL));
  CHECK_OK (one, ax_conv_backward (k3, &c->DY3, &c->DW3, NULL, &c->DZ, &c->Y, &w3));
  ax_kernel_release (k2);
  ax_kernel_release (k3);
}

/* Tower t takes its maps of the input and of the gradient from the one
 * device's tensors, and runs conv2 on its own half of the weights. */
static void
run_tower_conv2 (towers_case *c, int t)
{
  arena *m = &mem_tower[t];
  ax_shape half_x = ax_shape_make (N, C / 2, H, W), half_y = ax_shape_make (N, C2 / 2, H, W);
  ax_conv_params p = conv2;
  p.out_channels = C2 / 2;
  p.groups = 1;
  ax_kernel *k = prepare (tower[t], half_x, p);
  ax_tensor x = arena_tensor (m, half_x, AX_F32), dy = arena_tensor (m, half_y, AX_F32);
  CHECK_OK (tower[t], ax_tensor_copy_channels (&x, 0, &c->X, t * C / 2, C / 2));
  CHECK_OK (tower[t], ax_tensor_copy_channels (&dy, 0, &c->DY, t * C2 / 2, C2 / 2));
  ax_tensor w = tensor_with (m, ax_shape_make (C2 / 2, C / 2, 5, 5), c->w2 + t * w2_half);
  ax_tensor b = tensor_with (m, ax_shape_make (C2 / 2, 1, 1, 1), c->b2 + t * C2 / 2);
  c->Yt[t] = arena_tensor (m, half_y, AX_F32);
  c->DXt[t] = arena_tensor (m, half_x, AX_F32);
  c->DWt[t] = arena_tensor (m, w.shape, AX_F32);
  c->DBt[t] = arena_tensor (m, b.shape, AX_F32);
  CHECK_OK (tower[t], ax_tensor_fill (&c->DWt[t], 0.0f));
  CHECK_OK (tower[t], ax_tensor_fill (&c->DBt[t], 0.0f));
  CHECK_OK (tower[t], ax_conv_forward (k, &c->Yt[t], &x, &w, &b));
  CHECK_OK (tower[t], ax_conv_backward (k, &c->DXt[t], &c->DWt[t], &c->DBt[t],
          &dy, &x, &w));
  ax_kernel_release (k);
}

/* Tower t gathers both towers' conv2 maps and computes its half of conv3. */
static void
run_tower_conv3 (towers_case *c, int t)
{
  arena *m = &mem_tower[t];
  ax_shape y_shape = ax_shape_make (N, C2, H, W);
  ax_conv_params p = conv3;
  p.out_channels = C3 / 2;
  ax_kernel *k = prepare (tower[t], y_shape, p);
  ax_tensor both = arena_tensor (m, y_shape, AX_F32);
  for (int from = 0; from < 2; from++)
    CHECK_OK (tower[t], ax_tensor_copy_channels (&both, from * C2 / 2,
            &c->Yt[from], 0, C2 / 2));
  ax_tensor w = tensor_with (m, ax_shape_make (C3 / 2, C2, 3, 3), c->w3 + t * w3_half);
  ax_tensor dz = arena_tensor (m, ax_shape_make (N, C3 / 2, H, W), AX_F32);
  CHECK_OK (tower[t], ax_tensor_copy_channels (&dz, 0, &c->DZ, t * C3 / 2, C3 / 2));
  c->Zt[t] = arena_tensor (m, dz.shape, AX_F32);
  c->DBOTH[t] = arena_tensor (m, y_shape, AX_F32);
  c->DW3t[t] = arena_tensor (m, w.shape, AX_F32);
  CHECK_OK (tower[t], ax_tensor_fill (&c->DW3t[t], 0.0f));
  CHECK_OK (tower[t], ax_conv_forward (k, &c->Zt[t], &both, &w, NULL));
  CHECK_OK (tower[t], ax_conv_backward (k, &c->DBOTH[t], &c->DW3t[t], NULL,
          &dz, &both, &w));
  ax_kernel_release (k);
}

/* Each tower's conv3 backward gave gradients for both towers' maps: tower
 * t's maps get its own share plus the one the other tower sends back. */
static void
exchange_conv3_gradients (towers_case *c, int t)
{
  arena *m = &mem_tower[t];
  ax_shape half_y = ax_shape_make (N, C2 / 2, H, W);
  ax_tensor from_other = arena_tensor (m, half_y, AX_F32);
  c->DY3t[t] = arena_tensor (m, half_y, AX_F32);
  CHECK_OK (tower[t], ax_tensor_copy_channels (&c->DY3t[t], 0, &c->DBOTH[t],
          t * C2 / 2, C2 / 2));
  CHECK_OK (tower[t], ax_tensor_copy_channels (&from_other, 0,
          &c->DBOTH[1 - t], t * C2 / 2, C2 / 2));
  CHECK_OK (tower[t], ax_tensor_axpy (&c->DY3t[t], 1.0f, &from_other));
}

/* Error between the one device's `whole` and the towers' halves joined. */
static double
joined_error (const ax_tensor *whole, const ax_tensor halves[2])
{
  int half = halves[0].shape.c;
  ax_tensor joined = arena_tensor (&mem_one, whole->shape, AX_F32);
  for (int t = 0; t < 2; t++)
    CHECK_OK (one, ax_tensor_copy_channels (&joined, t * half, &halves[t], 0, half));
  return compare_tensors (&joined, whole);
}

/* Weight gradients: tower t's are rows [t * half, (t + 1) * half). */
static double
stacked_error (const ax_tensor *whole, const ax_tensor halves[2])
{
  size_t n = ax_shape_count (whole->shape), half = n / 2;
  double *a = new_zeros (n), *b = new_zeros (n);
  CHECK_OK (one, download_doubles (a, whole));
  for (int t = 0; t < 2; t++)
    CHECK_OK (tower[t], download_doubles (b + t * half, &halves[t]));
  double err = normalised_error (b, a, n);
  free (a);
  free (b);
  return err;
}

static void
test_towers (void)
{
  towers_case c = {
    .x = new_uniform ((size_t) N * C * H * W, -1, 1),
    .w2 = new_uniform (2 * w2_half, -0.2, 0.2),
    .b2 = new_uniform (C2, -1, 1),
    .dy = new_uniform ((size_t) N * C2 * H * W, -1, 1),
    .w3 = new_uniform (2 * w3_half, -0.2, 0.2),
    .dz = new_uniform ((size_t) N * C3 * H * W, -1, 1),
  };
  run_one_device (&c);
  int threads_before = omp_get_max_threads ();
  for (int t = 0; t < 2; t++)
    run_tower_conv2 (&c, t);
  for (int t = 0; t < 2; t++)
    run_tower_conv3 (&c, t);
  for (int t = 0; t < 2; t++)
    exchange_conv3_gradients (&c, t);
  AX_CHECK (omp_get_max_threads () == threads_before,
      "the caller's thread count is given back");
  double e_y = joined_error (&c.Y, c.Yt), e_dx = joined_error (&c.DX, c.DXt);
  double e_dw = stacked_error (&c.DW2, c.DWt), e_db = stacked_error (&c.DB2, c.DBt);
  double e_z = joined_error (&c.Z, c.Zt), e_dy3 = joined_error (&c.DY3, c.DY3t);
  double e_dw3 = stacked_error (&c.DW3, c.DW3t);
  printf ("  towers vs groups: conv2 out %.1e din %.1e dw %.1e db %.1e; "
      "conv3 out %.1e din %.1e dw %.1e\n", e_y, e_dx, e_dw, e_db, e_z,
      e_dy3, e_dw3);
  AX_CHECK (e_y < TOL && e_dx < TOL && e_dw < TOL && e_db < TOL, "conv2");
  AX_CHECK (e_z < TOL && e_dy3 < TOL && e_dw3 < TOL, "conv3 with exchange");
  free (c.x); free (c.w2); free (c.b2); free (c.dy); free (c.w3); free (c.dz);
}

static void
test_channel_copy_and_axpy (void)
{
  arena_reset (&mem_one);
  ax_tensor a = arena_tensor (&mem_one, ax_shape_make (2, 4, 3, 3), AX_F32);
  ax_tensor b = arena_tensor (&mem_one, ax_shape_make (2, 6, 3, 3), AX_F32);
  ax_tensor c = arena_tensor (&mem_one, ax_shape_make (2, 6, 3, 2), AX_F32);
  AX_CHECK (ax_tensor_copy_channels (&b, 3, &a, 0, 4) == AX_ERR_SHAPE, "past the end");
  AX_CHECK (ax_tensor_copy_channels (&b, 0, &a, -1, 2) == AX_ERR_SHAPE, "negative");
  AX_CHECK (ax_tensor_copy_channels (&c, 0, &a, 0, 2) == AX_ERR_SHAPE, "other width");
  AX_CHECK (ax_tensor_copy_channels (&b, 2, &a, 0, 4) == AX_OK, "fits exactly");
  AX_CHECK (ax_tensor_axpy (&a, 1.0f, &b) == AX_ERR_SHAPE, "axpy shapes");
  ax_tensor other = arena_tensor (&mem_tower[0], a.shape, AX_F32);
  AX_CHECK (ax_tensor_axpy (&a, 1.0f, &other) == AX_ERR_WRONG_BACKEND,
      "axpy across backends");
  float ones[72], twos[72], back[72];
  for (int i = 0; i < 72; i++) {
    ones[i] = 1.0f;
    twos[i] = 2.0f;
  }
  CHECK_OK (one, ax_tensor_upload (&a, ones, sizeof ones));
  ax_tensor d = arena_tensor (&mem_one, a.shape, AX_F32);
  CHECK_OK (one, ax_tensor_upload (&d, twos, sizeof twos));
  CHECK_OK (one, ax_tensor_axpy (&a, -0.5f, &d));
  CHECK_OK (one, ax_tensor_download (back, sizeof back, &a));
  AX_CHECK (back[0] == 0.0f && back[71] == 0.0f, "1 - 0.5 * 2 = 0");
}

int
main (void)
{
  ax_rng_seed (&test_rng, 32);
  if (ax_cpu_backend_create (0, &one) != AX_OK
      || ax_cpu_backend_create (1, &tower[0]) != AX_OK
      || ax_cpu_backend_create (1, &tower[1]) != AX_OK
      || !arena_init (&mem_one, one, 4 << 20)
      || !arena_init (&mem_tower[0], tower[0], 4 << 20)
      || !arena_init (&mem_tower[1], tower[1], 4 << 20))
    return 1;
  AX_RUN (test_towers);
  AX_RUN (test_channel_copy_and_axpy);
  for (int t = 0; t < 2; t++) {
    ax_slab_free (&mem_tower[t].slab);
    ax_backend_destroy (tower[t]);
  }
  ax_slab_free (&mem_one.slab);
  ax_backend_destroy (one);
  return ax_test_finish ();
}
