/* Networks as data: the layer-spec list and its builders for the paper's
 * two-tower AlexNet, torchvision's single-tower one and Simonyan and
 * Zisserman's VGG configurations A, A-LRN, B, C, D and E, and torchvision's
 * batch-norm variants of A, B, D and E. */
#include "kernels/nn/net.h"

#include <stdio.h>
#include <string.h>

ax_status
ax_net_spec_add (ax_net_spec *spec, const ax_layer_spec *layer)
{
  if (!spec || !layer || spec->n_layers < 0
      || spec->n_layers >= AX_NET_MAX_LAYERS
      || memchr (layer->name, 0, AX_NAME_MAX) == NULL
      || memchr (layer->param_prefix, 0, AX_NAME_MAX) == NULL)
    return AX_ERR_INVALID_ARG;
  spec->layers[spec->n_layers++] = *layer;
  return AX_OK;
}

/* Builder state: the spec, and the first error met. */
typedef struct {
  ax_net_spec *spec;
  ax_status st;
} builder;

static ax_layer_spec *
add (builder *b, ax_layer_kind kind, const char *name, const char *prefix)
{
  ax_layer_spec l;
  memset (&l, 0, sizeof l);
  l.kind = kind;
  l.groups = 1;
  snprintf (l.name, sizeof l.name, "%s", name);
  snprintf (l.param_prefix, sizeof l.param_prefix, "%s", prefix ? prefix : name);
  if (b->st == AX_OK)
    b->st = ax_net_spec_add (b->spec, &l);
  return b->st == AX_OK ? &b->spec->layers[b->spec->n_layers - 1] : NULL;
}

static void
conv (builder *b, const char *name, const char *prefix, int out, int k,
    int stride, int pad, int groups, float bias_init)
{
  ax_layer_spec *l = add (b, AX_LAYER_CONV, name, prefix);
  if (l) {
    l->p.conv = (ax_conv_params) { out, k, k, stride, pad, groups, 1 };
    l->bias_init = bias_init;
  }
}

static void
fc (builder *b, const char *name, const char *prefix, int out, float bias_init)
{
  ax_layer_spec *l = add (b, AX_LAYER_FC, name, prefix);
  if (l) {
    l->p.fc = (ax_fc_params) { out, 1 };
    l->bias_init = bias_init;
  }
}

static void
simple (builder *b, ax_layer_kind kind, const char *name)
{
  add (b, kind, name, NULL);
}

static void
maxpool (builder *b, const char *name)
{
  ax_layer_spec *l = add (b, AX_LAYER_MAXPOOL, name, NULL);
  if (l)
    l->p.pool = (ax_pool_params) { 3, 2, 0 };
}

static void
lrn (builder *b, const char *name, int groups)
{
  ax_layer_spec *l = add (b, AX_LAYER_LRN, name, NULL);
  if (l) {
    l->p.lrn = AX_LRN_PAPER;
    l->groups = groups;
  }
}

static void
dropout (builder *b, const char *name, uint32_t stream)
{
  ax_layer_spec *l = add (b, AX_LAYER_DROPOUT, name, NULL);
  if (l)
    l->p.dropout = (ax_dropout_params) { 0.5f, stream };
}

static ax_status
start (builder *b, ax_net_spec *spec, const char *arch, int n_classes,
    int in_size)
{
  if (!spec || n_classes < 1 || in_size < 1)
    return AX_ERR_INVALID_ARG;
  memset (spec, 0, sizeof *spec);
  snprintf (spec->arch, sizeof spec->arch, "%s", arch);
  spec->in_c = 3;
  spec->in_h = spec->in_w = in_size;
  spec->n_classes = n_classes;
  b->spec = spec;
  b->st = AX_OK;
  return AX_OK;
}

ax_status
ax_net_spec_alexnet_paper (ax_net_spec *spec, int n_classes, int in_size)
{
  builder b;
  ax_status st = start (&b, spec, "alexnet-paper", n_classes, in_size);
  if (st != AX_OK)
    return st;
  conv (&b, "conv1", NULL, 96, 11, 4, 2, 1, 0.0f);
  simple (&b, AX_LAYER_RELU, "relu1");
  lrn (&b, "lrn1", 2);
  maxpool (&b, "pool1");
  conv (&b, "conv2", NULL, 256, 5, 1, 2, 2, 1.0f);
  simple (&b, AX_LAYER_RELU, "relu2");
  lrn (&b, "lrn2", 2);
  maxpool (&b, "pool2");
  conv (&b, "conv3", NULL, 384, 3, 1, 1, 1, 0.0f);
  simple (&b, AX_LAYER_RELU, "relu3");
  conv (&b, "conv4", NULL, 384, 3, 1, 1, 2, 1.0f);
  simple (&b, AX_LAYER_RELU, "relu4");
  conv (&b, "conv5", NULL, 256, 3, 1, 1, 2, 1.0f);
  simple (&b, AX_LAYER_RELU, "relu5");
  maxpool (&b, "pool5");
  simple (&b, AX_LAYER_FLATTEN, "flatten");
  fc (&b, "fc6", NULL, 4096, 1.0f);
  simple (&b, AX_LAYER_RELU, "relu6");
  dropout (&b, "drop6", 6);
  fc (&b, "fc7", NULL, 4096, 1.0f);
  simple (&b, AX_LAYER_RELU, "relu7");
  dropout (&b, "drop7", 7);
  fc (&b, "fc8", NULL, n_classes, 0.0f);
  return b.st;
}

ax_status
ax_net_spec_alexnet_torchvision (ax_net_spec *spec, int n_classes, int in_size)
{
  builder b;
  ax_status st = start (&b, spec, "alexnet-torchvision", n_classes, in_size);
  if (st != AX_OK)
    return st;
  conv (&b, "conv1", "features.0", 64, 11, 4, 2, 1, 0.0f);
  simple (&b, AX_LAYER_RELU, "relu1");
  maxpool (&b, "pool1");
  conv (&b, "conv2", "features.3", 192, 5, 1, 2, 1, 0.0f);
  simple (&b, AX_LAYER_RELU, "relu2");
  maxpool (&b, "pool2");
  conv (&b, "conv3", "features.6", 384, 3, 1, 1, 1, 0.0f);
  simple (&b, AX_LAYER_RELU, "relu3");
  conv (&b, "conv4", "features.8", 256, 3, 1, 1, 1, 0.0f);
  simple (&b, AX_LAYER_RELU, "relu4");
  conv (&b, "conv5", "features.10", 256, 3, 1, 1, 1, 0.0f);
  simple (&b, AX_LAYER_RELU, "relu5");
  maxpool (&b, "pool5");
  ax_layer_spec *avg = add (&b, AX_LAYER_AVGPOOL, "avgpool", NULL);
  if (avg)
    avg->p.avgpool.out_h = avg->p.avgpool.out_w = 6;
  simple (&b, AX_LAYER_FLATTEN, "flatten");
  dropout (&b, "drop6", 6);
  fc (&b, "fc6", "classifier.1", 4096, 0.0f);
  simple (&b, AX_LAYER_RELU, "relu6");
  dropout (&b, "drop7", 7);
  fc (&b, "fc7", "classifier.4", 4096, 0.0f);
  simple (&b, AX_LAYER_RELU, "relu7");
  fc (&b, "fc8", "classifier.6", n_classes, 0.0f);
  return b.st;
}

/* --- VGG (Simonyan and Zisserman 2014, Table 1) --- */

/* A block's convolutions: 3x3 (pad 1), the last one 1x1 (pad 0) where
 * `last_is_1x1` says so (configuration C, blocks 3 to 5). */
typedef struct {
  int n;                        /* convolutions in the block */
  int width;                    /* their output channels */
  int last_is_1x1;              /* C: the block's last is 1x1 */
} vgg_block;

typedef struct {
  const char *arch;             /* the checkpoint's name */
  const char *torchvision;      /* torchvision's, or NULL (no such model) */
  int lrn;                      /* A-LRN: LRN after the first ReLU */
  vgg_block blocks[5];
} vgg_config;

static const vgg_config vgg_configs[] = {
  { "vgg-a", "vgg11", 0, { { 1, 64, 0 }, { 1, 128, 0 }, { 2, 256, 0 },
      { 2, 512, 0 }, { 2, 512, 0 } } },
  { "vgg-a-lrn", NULL, 1, { { 1, 64, 0 }, { 1, 128, 0 }, { 2, 256, 0 },
      { 2, 512, 0 }, { 2, 512, 0 } } },
  { "vgg-b", "vgg13", 0, { { 2, 64, 0 }, { 2, 128, 0 }, { 2, 256, 0 },
      { 2, 512, 0 }, { 2, 512, 0 } } },
  { "vgg-c", NULL, 0, { { 2, 64, 0 }, { 2, 128, 0 }, { 3, 256, 1 },
      { 3, 512, 1 }, { 3, 512, 1 } } },
  { "vgg-d", "vgg16", 0, { { 2, 64, 0 }, { 2, 128, 0 }, { 3, 256, 0 },
      { 3, 512, 0 }, { 3, 512, 0 } } },
  { "vgg-e", "vgg19", 0, { { 2, 64, 0 }, { 2, 128, 0 }, { 4, 256, 0 },
      { 4, 512, 0 }, { 4, 512, 0 } } },
};

/* 1 if `arch` is `base` followed by `suffix` ("vgg-d" "-bn"). */
static int
is_with_suffix (const char *arch, const char *base, const char *suffix)
{
  size_t n = strlen (base);
  return strncmp (arch, base, n) == 0 && strcmp (arch + n, suffix) == 0;
}

/* The configuration named `arch` (the paper's letter or torchvision's
 * name), or NULL; *bn says whether it is a batch-norm variant ("vgg-d-bn",
 * torchvision's "vgg16_bn": only those torchvision has, A, B, D, E). */
static const vgg_config *
vgg_find (const char *arch, int *bn)
{
  for (size_t i = 0; i < sizeof vgg_configs / sizeof vgg_configs[0]; i++) {
    const vgg_config *c = &vgg_configs[i];
    *bn = 0;
    if (strcmp (arch, c->arch) == 0
        || (c->torchvision && strcmp (arch, c->torchvision) == 0))
      return c;
    *bn = 1;
    if (c->torchvision && (is_with_suffix (arch, c->arch, "-bn")
            || is_with_suffix (arch, c->torchvision, "_bn")))
      return c;
  }
  *bn = 0;
  return NULL;
}

/* torchvision's BatchNorm2d (eps 1e-5, momentum 0.1) after a convolution. */
static void
batchnorm (builder *b, const char *name, const char *prefix)
{
  ax_layer_spec *l = add (b, AX_LAYER_BATCHNORM, name, prefix);
  if (l)
    l->p.bn = AX_BN_TORCH;
}

static ax_status
vgg_build (ax_net_spec *spec, const vgg_config *c, int bn, int n_classes,
    int in_size)
{
  builder b;
  char name[AX_NAME_MAX], prefix[AX_NAME_MAX];
  int conv_no = 0, index = 0;   /* index: torchvision's features.N */
  snprintf (name, sizeof name, "%s%s", c->arch, bn ? "-bn" : "");
  ax_status st = start (&b, spec, name, n_classes, in_size);
  if (st != AX_OK)
    return st;
  for (int k = 0; k < 5; k++) {
    for (int j = 0; j < c->blocks[k].n; j++) {
      int one = c->blocks[k].last_is_1x1 && j == c->blocks[k].n - 1;
      snprintf (name, sizeof name, "conv%d_%d", k + 1, j + 1);
      snprintf (prefix, sizeof prefix, "features.%d", index++);
      conv (&b, name, prefix, c->blocks[k].width, one ? 1 : 3, 1, one ? 0 : 1,
          1, 0.0f);
      if (bn) {
        snprintf (name, sizeof name, "bn%d_%d", k + 1, j + 1);
        snprintf (prefix, sizeof prefix, "features.%d", index++);
        batchnorm (&b, name, prefix);
      }
      snprintf (name, sizeof name, "relu%d_%d", k + 1, j + 1);
      simple (&b, AX_LAYER_RELU, name);
      index++;
      if (c->lrn && ++conv_no == 1) {
        lrn (&b, "lrn1", 1);
        index++;
      }
    }
    snprintf (name, sizeof name, "pool%d", k + 1);
    ax_layer_spec *l = add (&b, AX_LAYER_MAXPOOL, name, NULL);
    if (l)
      l->p.pool = (ax_pool_params) { 2, 2, 0 };
    index++;
  }
  /* torchvision's adaptive average pool to 7x7 (the identity at 224),
   * so that any input size feeds fc6 the same 25088 values */
  ax_layer_spec *avg = add (&b, AX_LAYER_AVGPOOL, "avgpool", NULL);
  if (avg)
    avg->p.avgpool.out_h = avg->p.avgpool.out_w = 7;
  simple (&b, AX_LAYER_FLATTEN, "flatten");
  fc (&b, "fc6", "classifier.0", 4096, 0.0f);
  simple (&b, AX_LAYER_RELU, "relu6");
  dropout (&b, "drop6", 6);
  fc (&b, "fc7", "classifier.3", 4096, 0.0f);
  simple (&b, AX_LAYER_RELU, "relu7");
  dropout (&b, "drop7", 7);
  fc (&b, "fc8", "classifier.6", n_classes, 0.0f);
  return b.st;
}

ax_status
ax_net_spec_vgg (ax_net_spec *spec, const char *arch, int n_classes,
    int in_size)
{
  int bn = 0;
  const vgg_config *c = arch ? vgg_find (arch, &bn) : NULL;
  if (!c)
    return arch ? AX_ERR_UNSUPPORTED : AX_ERR_INVALID_ARG;
  return vgg_build (spec, c, bn, n_classes, in_size);
}

int
ax_net_arch_is_vgg (const char *arch)
{
  int bn;
  return arch && vgg_find (arch, &bn) != NULL;
}

ax_status
ax_net_spec_by_arch (ax_net_spec *spec, const char *arch, int n_classes,
    int in_size)
{
  if (!arch)
    return AX_ERR_INVALID_ARG;
  if (strcmp (arch, "alexnet-paper") == 0)
    return ax_net_spec_alexnet_paper (spec, n_classes, in_size);
  if (strcmp (arch, "alexnet-torchvision") == 0)
    return ax_net_spec_alexnet_torchvision (spec, n_classes, in_size);
  int bn;
  if (vgg_find (arch, &bn))
    return ax_net_spec_vgg (spec, arch, n_classes, in_size);
  return AX_ERR_UNSUPPORTED;
}

ax_status
ax_net_spec_narrow (ax_net_spec *spec, int div)
{
  if (!spec || div < 1)
    return AX_ERR_INVALID_ARG;
  int last_fc = -1;
  for (int i = 0; i < spec->n_layers; i++)
    if (spec->layers[i].kind == AX_LAYER_FC)
      last_fc = i;
  for (int i = 0; i < spec->n_layers; i++) {
    ax_layer_spec *l = &spec->layers[i];
    int *width = l->kind == AX_LAYER_CONV ? &l->p.conv.out_channels
        : l->kind == AX_LAYER_FC && i != last_fc ? &l->p.fc.out_features : NULL;
    if (!width)
      continue;
    if (*width % div || *width / div < 1)
      return AX_ERR_INVALID_ARG;
    *width /= div;
  }
  return AX_OK;
}
