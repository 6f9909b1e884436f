/* An inference network from a checkpoint file: net_infer.h. */
#include "kernels/nn/net_infer.h"

#include <stdio.h>
#include <string.h>

#include "kernels/io/checkpoint.h"

/* The divisor of a checkpoint without a width_divisor key: its first
 * convolution's width against the full architecture's; 1 when they agree
 * or the file says nothing usable (the load then names the shapes that
 * differ). */
static int
divisor_from_shapes (const char *path, const ax_net_spec *full)
{
  const char *names[] = { "conv1.weight", "features.0.weight" };
  ax_checkpoint *ck = NULL;
  int base = 0, div = 1;

  for (int i = 0; i < full->n_layers && !base; i++)
    if (full->layers[i].kind == AX_LAYER_CONV)
      base = full->layers[i].p.conv.out_channels;
  if (base <= 0 || ax_checkpoint_open (path, &ck, NULL, 0) != AX_CKPT_OK)
    return 1;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const ax_ckpt_tensor *t = ax_checkpoint_find (ck, names[i]);
    if (t != NULL && t->shape.ndim == 4 && t->shape.dim[0] > 0
        && base % t->shape.dim[0] == 0) {
      div = base / (int) t->shape.dim[0];
      break;
    }
  }
  ax_checkpoint_close (ck);
  return div;
}

void
ax_infer_net_close (ax_infer_net *m)
{
  if (m == NULL)
    return;
  if (m->net)
    ax_net_destroy (m->net);
  for (int t = 0; t < 2; t++)
    if (m->backends[t])
      ax_backend_destroy (m->backends[t]);
  memset (m, 0, sizeof *m);
}

ax_status
ax_infer_net_open (ax_infer_net *m, const char *path,
    const ax_net_checkpoint_info *info, int batch, int towers, int threads,
    ax_device device, int conv_algo, char *note, size_t note_size, char *err,
    size_t err_size)
{
  ax_net_config cfg;
  ax_net_spec spec;
  ax_status st;
  char why[512];

  memset (m, 0, sizeof *m);
  st = ax_net_spec_by_arch (&spec, info->arch, info->n_classes,
      info->input_size);
  if (st != AX_OK) {
    snprintf (err, err_size, "%s: architecture '%s' is not one this program "
        "can build (alexnet-paper, alexnet-torchvision)", path, info->arch);
    return st;
  }
  m->width_divisor = info->width_divisor > 1 ? info->width_divisor :
      divisor_from_shapes (path, &spec);
  if (m->width_divisor > 1
      && (st = ax_net_spec_narrow (&spec, m->width_divisor)) != AX_OK) {
    snprintf (err, err_size, "%s: width divisor %d does not divide the "
        "widths of %s", path, m->width_divisor, info->arch);
    return st;
  }

  memset (&cfg, 0, sizeof cfg);
  cfg.batch = batch;
  cfg.training = 0;
  cfg.placement = towers ? AX_PLACE_TOWERS : AX_PLACE_ONE;
  {
    ax_backends_request req = { device, cfg.placement, towers ? 2 : 1,
      threads, 0, conv_algo };
    ax_device used;
    if ((st = ax_backends_create (&req, m->backends, &used, note, note_size,
                why, sizeof why)) != AX_OK) {
      snprintf (err, err_size, "%s: cannot start the backends: %s", path,
          why);
      goto failed;
    }
    for (int t = 0; t < req.n; t++)
      cfg.backends[t] = m->backends[t];
  }
  if ((st = ax_net_create (&spec, &cfg, &m->net, why, sizeof why)) != AX_OK) {
    snprintf (err, err_size, "%s: cannot build its network: %s", path, why);
    goto failed;
  }
  if ((st = ax_net_checkpoint_load (m->net, path, 0, NULL, err, err_size))
      != AX_OK)
    goto failed;
  return AX_OK;

failed:
  ax_infer_net_close (m);
  return st;
}
