/* The paper's two towers (section 3.2) on two CPU backend instances give
 * the same numbers as one instance running grouped convolutions: conv2
 * style (each tower sees its own maps), forward and backward, and conv3
 * style (each tower reads both towers' maps, exchanged by channel copies). */
#include "kernels/cpu_backend.h"
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

static void
test_towers (void)
{
  const int N = 2, C = 16, H = 9, W = 9, C2 = 24, C3 = 16;
  ax_shape x_shape = ax_shape_make (N, C, H, W), y_shape = ax_shape_make (N, C2, H, W);
  ax_shape half_x = ax_shape_make (N, C / 2, H, W), half_y = ax_shape_make (N, C2 / 2, H, W);
  ax_conv_params conv2 = { C2, 5, 5, 1, 2, 2, 1 }, conv2_tower = conv2;
  conv2_tower.out_channels = C2 / 2;
  conv2_tower.groups = 1;
  ax_conv_params conv3 = { C3, 3, 3, 1, 1, 1, 0 }, conv3_tower = conv3;
  conv3_tower.out_channels = C3 / 2;
  double *x = new_uniform (ax_shape_count (x_shape), -1, 1);
  double *w2 = new_uniform ((size_t) C2 * (C / 2) * 25, -0.2, 0.2);
  double *b2 = new_uniform (C2, -1, 1);
  double *dy = new_uniform (ax_shape_count (y_shape), -1, 1);
  double *w3 = new_uniform ((size_t) C3 * C2 * 9, -0.2, 0.2);
  size_t w2_half = (size_t) (C2 / 2) * (C / 2) * 25, w3_half = (size_t) (C3 / 2) * C2 * 9;

  /* One device: grouped conv2, full conv3. */
  ax_kernel *k2 = prepare (one, x_shape, conv2), *k3 = prepare (one, y_shape, conv3);
  ax_tensor X = tensor_with (&mem_one, x_shape, x);
  ax_tensor W2 = tensor_with (&mem_one, ax_shape_make (C2, C / 2, 5, 5), w2);
  ax_tensor B2 = tensor_with (&mem_one, ax_shape_make (C2, 1, 1, 1), b2);
  ax_tensor DY = tensor_with (&mem_one, y_shape, dy);
  ax_tensor W3 = tensor_with (&mem_one, ax_shape_make (C3, C2, 3, 3), w3);
  ax_tensor Y = arena_tensor (&mem_one, y_shape, AX_F32);
  ax_tensor DX = arena_tensor (&mem_one, x_shape, AX_F32);
  ax_tensor DW2 = arena_tensor (&mem_one, W2.shape, AX_F32);
  ax_tensor DB2 = arena_tensor (&mem_one, B2.shape, AX_F32);
  ax_tensor Z = arena_tensor (&mem_one, ax_shape_make (N, C3, H, W), AX_F32);
  ax_tensor joined = arena_tensor (&mem_one, y_shape, AX_F32);
  ax_tensor check = arena_tensor (&mem_one, Z.shape, AX_F32);
  ax_tensor check_x = arena_tensor (&mem_one, x_shape, AX_F32);
  CHECK_OK (one, ax_tensor_fill (&DW2, 0.0f));
  CHECK_OK (one, ax_tensor_fill (&DB2, 0.0f));
  CHECK_OK (one, ax_conv_forward (k2, &Y, &X, &W2, &B2));
  CHECK_OK (one, ax_conv_backward (k2, &DX, &DW2, &DB2, &DY, &X, &W2));
  CHECK_OK (one, ax_conv_forward (k3, &Z, &Y, &W3, NULL));

  /* Two towers, each on its own instance and thread. */
  int threads_before = omp_get_max_threads ();
  ax_tensor Yt[2], Zt[2], DWt[2], DBt[2];
  for (int t = 0; t < 2; t++) {
    arena *m = &mem_tower[t];
    ax_kernel *t2 = prepare (tower[t], half_x, conv2_tower);
    ax_tensor Xt = arena_tensor (m, half_x, AX_F32);
    CHECK_OK (tower[t], ax_tensor_copy_channels (&Xt, 0, &X, t * C / 2, C / 2));
    ax_tensor Wt = tensor_with (m, ax_shape_make (C2 / 2, C / 2, 5, 5), w2 + t * w2_half);
    ax_tensor Bt = tensor_with (m, ax_shape_make (C2 / 2, 1, 1, 1), b2 + t * C2 / 2);
    ax_tensor DYt = arena_tensor (m, half_y, AX_F32);
    ax_tensor DXt = arena_tensor (m, half_x, AX_F32);
    CHECK_OK (tower[t], ax_tensor_copy_channels (&DYt, 0, &DY, t * C2 / 2, C2 / 2));
    Yt[t] = arena_tensor (m, half_y, AX_F32);
    DWt[t] = arena_tensor (m, Wt.shape, AX_F32);
    DBt[t] = arena_tensor (m, Bt.shape, AX_F32);
    CHECK_OK (tower[t], ax_tensor_fill (&DWt[t], 0.0f));
    CHECK_OK (tower[t], ax_tensor_fill (&DBt[t], 0.0f));
    CHECK_OK (tower[t], ax_conv_forward (t2, &Yt[t], &Xt, &Wt, &Bt));
    CHECK_OK (tower[t], ax_conv_backward (t2, &DXt, &DWt[t], &DBt[t], &DYt, &Xt, &Wt));
    CHECK_OK (one, ax_tensor_copy_channels (&joined, t * C2 / 2, &Yt[t], 0, C2 / 2));
    CHECK_OK (one, ax_tensor_copy_channels (&check_x, t * C / 2, &DXt, 0, C / 2));
    ax_kernel_release (t2);
  }
  AX_CHECK (omp_get_max_threads () == threads_before,
      "the caller's thread count is given back");
  double e_y = compare_tensors (&joined, &Y), e_dx = compare_tensors (&check_x, &DX);
  /* Tower t's weight gradients are rows [t*C2/2, (t+1)*C2/2) of DW2. */
  size_t n_dw = ax_shape_count (DW2.shape);
  double *dw_one = new_zeros (n_dw), *dw_towers = new_zeros (n_dw);
  double *db_one = new_zeros (C2), *db_towers = new_zeros (C2);
  CHECK_OK (one, download_doubles (dw_one, &DW2));
  CHECK_OK (one, download_doubles (db_one, &DB2));
  for (int t = 0; t < 2; t++) {
    CHECK_OK (tower[t], download_doubles (dw_towers + t * w2_half, &DWt[t]));
    CHECK_OK (tower[t], download_doubles (db_towers + t * C2 / 2, &DBt[t]));
  }
  double e_dw = normalised_error (dw_towers, dw_one, n_dw);
  double e_db = normalised_error (db_towers, db_one, C2);

  /* conv3: each tower gathers both towers' maps, computes half the maps. */
  for (int t = 0; t < 2; t++) {
    arena *m = &mem_tower[t];
    ax_kernel *t3 = prepare (tower[t], y_shape, conv3_tower);
    ax_tensor both = arena_tensor (m, y_shape, AX_F32);
    for (int from = 0; from < 2; from++)
      CHECK_OK (tower[t], ax_tensor_copy_channels (&both, from * C2 / 2,
              &Yt[from], 0, C2 / 2));
    ax_tensor W3t = tensor_with (m, ax_shape_make (C3 / 2, C2, 3, 3), w3 + t * w3_half);
    Zt[t] = arena_tensor (m, ax_shape_make (N, C3 / 2, H, W), AX_F32);
    CHECK_OK (tower[t], ax_conv_forward (t3, &Zt[t], &both, &W3t, NULL));
    CHECK_OK (one, ax_tensor_copy_channels (&check, t * C3 / 2, &Zt[t], 0, C3 / 2));
    ax_kernel_release (t3);
  }
  double e_z = compare_tensors (&check, &Z);
  printf ("  towers vs groups: conv2 out %.1e din %.1e dw %.1e db %.1e; "
      "conv3 out %.1e\n", e_y, e_dx, e_dw, e_db, e_z);
  AX_CHECK (e_y < TOL && e_dx < TOL && e_dw < TOL && e_db < TOL && e_z < TOL,
      "two towers give the grouped numbers");
  ax_kernel_release (k2);
  ax_kernel_release (k3);
  free (x); free (w2); free (b2); free (dy); free (w3);
  free (dw_one); free (dw_towers); free (db_one); free (db_towers);
}

static void
test_channel_copy_bounds (void)
{
  arena_reset (&mem_one);
  ax_tensor a = arena_tensor (&mem_one, ax_shape_make (2, 4, 3, 3), AX_F32);
  ax_tensor b = arena_tensor (&mem_one, ax_shape_make (2, 6, 3, 3), AX_F32);
  ax_tensor c = arena_tensor (&mem_one, ax_shape_make (2, 6, 3, 2), AX_F32);
  AX_CHECK (ax_tensor_copy_channels (&b, 3, &a, 0, 4) == AX_ERR_SHAPE, "past the end");
  AX_CHECK (ax_tensor_copy_channels (&b, 0, &a, -1, 2) == AX_ERR_SHAPE, "negative");
  AX_CHECK (ax_tensor_copy_channels (&c, 0, &a, 0, 2) == AX_ERR_SHAPE, "other width");
  AX_CHECK (ax_tensor_copy_channels (&b, 2, &a, 0, 4) == AX_OK, "fits exactly");
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
  AX_RUN (test_channel_copy_bounds);
  for (int t = 0; t < 2; t++) {
    ax_slab_free (&mem_tower[t].slab);
    ax_backend_destroy (tower[t]);
  }
  ax_slab_free (&mem_one.slab);
  ax_backend_destroy (one);
  return ax_test_finish ();
}
