/* Saving a network to a checkpoint file and loading it back: parameters by
 * the network's names (PyTorch layout), the metadata that rebuilds the
 * network, and the training state for an exact resume. Key names and
 * meanings: docs/checkpoint-format.md. */
#include "kernels/nn/net_checkpoint.h"

#include "kernels/io/checkpoint.h"
#include "kernels/util/json.h"
#include "kernels/image/classify.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_NAME "gst-alexnet"
#define FORMAT_VERSION 1
#define MOMENTUM_PREFIX "momentum."

static ax_status
fail (char *err, size_t err_size, ax_status st, const char *fmt, ...)
{
  va_list ap;
  if (err && err_size) {
    va_start (ap, fmt);
    vsnprintf (err, err_size, fmt, ap);
    va_end (ap);
  }
  return st;
}

/* The checkpoint layer's message, prefixed with the file unless it names
 * it already. */
static ax_status
fail_named (char *err, size_t err_size, ax_status st, const char *path,
    const char *why)
{
  if (strncmp (why, path, strlen (path)) == 0)
    return fail (err, err_size, st, "%s", why);
  return fail (err, err_size, st, "%s: %s", path, why);
}

static ax_status
from_ckpt (ax_ckpt_status st)
{
  switch (st) {
    case AX_CKPT_OK: return AX_OK;
    case AX_CKPT_ERR_INVALID_ARG: return AX_ERR_INVALID_ARG;
    case AX_CKPT_ERR_IO: return AX_ERR_IO;
    case AX_CKPT_ERR_NO_MEMORY: return AX_ERR_NO_MEMORY;
    default: return AX_ERR_FORMAT;
  }
}

/* torchvision's names of AlexNet's layers and the paper's. */
static const char *const aliases[][2] = {
  {"features.0.", "conv1."}, {"features.3.", "conv2."},
  {"features.6.", "conv3."}, {"features.8.", "conv4."},
  {"features.10.", "conv5."}, {"classifier.1.", "fc6."},
  {"classifier.4.", "fc7."}, {"classifier.6.", "fc8."},
};

/* The other name of a torchvision AlexNet parameter, or 0. */
static int
alias_of (const char *name, char *out, size_t out_size)
{
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    for (int dir = 0; dir < 2; dir++) {
      const char *from = aliases[i][dir], *to = aliases[i][!dir];
      size_t n = strlen (from);
      if (strncmp (name, from, n) == 0) {
        snprintf (out, out_size, "%s%s", to, name + n);
        return 1;
      }
    }
  return 0;
}

static const ax_ckpt_tensor *
find_param (const ax_checkpoint *ck, const char *arch, const char *prefix,
    const char *name)
{
  char full[160], other[128];
  const ax_ckpt_tensor *t;

  snprintf (full, sizeof full, "%s%s", prefix, name);
  t = ax_checkpoint_find (ck, full);
  if (t || strcmp (arch, "alexnet-torchvision") != 0
      || !alias_of (name, other, sizeof other))
    return t;
  snprintf (full, sizeof full, "%s%s", prefix, other);
  return ax_checkpoint_find (ck, full);
}

static ax_ckpt_shape
param_shape (const ax_param_info *p)
{
  ax_ckpt_shape s = { 0 };
  s.ndim = p->ndim;
  for (int d = 0; d < p->ndim; d++)
    s.dim[d] = p->dims[d];
  return s;
}

/* The ax_net_spec_narrow divisor of a net: its first conv's width against
 * the full architecture's. */
static int
width_divisor_of (const ax_net_spec *spec)
{
  ax_net_spec full;
  int mine = 0, base = 0;

  if (ax_net_spec_by_arch (&full, spec->arch, spec->n_classes,
          spec->in_h) != AX_OK)
    return 1;
  for (int i = 0; i < spec->n_layers && !mine; i++)
    if (spec->layers[i].kind == AX_LAYER_CONV)
      mine = spec->layers[i].p.conv.out_channels;
  for (int i = 0; i < full.n_layers && !base; i++)
    if (full.layers[i].kind == AX_LAYER_CONV)
      base = full.layers[i].p.conv.out_channels;
  return mine > 0 && base % mine == 0 ? base / mine : 1;
}

/* The floats of every F32 parameter and buffer, and with `momentum` of
 * every trained parameter's momentum: a host block for them all. */
static size_t
staged_floats (ax_net *net, int momentum)
{
  size_t total = 0;
  for (int i = 0; i < ax_net_n_params (net); i++) {
    const ax_param_info *p = ax_net_param (net, i);
    if (p->dtype == AX_PARAM_F32)
      total += p->count * (momentum && !p->is_buffer ? 2 : 1);
  }
  return total;
}

/* ---- saving ---- */

/* The JSON metadata values (class names, normalisation, LRN constants),
 * through the one JSON writer: numbers the same in every locale. */
static void
put_meta_json (ax_checkpoint_writer *w, const ax_net_spec *spec,
    const ax_net_checkpoint_info *info)
{
  const ax_lrn_params *lrn = NULL;

  if (info->class_names) {
    ax_json_writer j = { 0 };
    ax_json_begin_array (&j);
    for (int i = 0; i < spec->n_classes; i++)
      ax_json_string (&j, info->class_names[i] ? info->class_names[i] : "");
    ax_json_end_array (&j);
    ax_checkpoint_writer_set_meta (w, "class_names", j.out.data);
    ax_strbuf_free (&j.out);
  }
  {
    static const float zero[3] = { 0, 0, 0 }, one[3] = { 1, 1, 1 };
    ax_json_writer j = { 0 };
    ax_json_begin_object (&j);
    ax_json_key (&j, "mean");
    ax_json_floats (&j, info->has_normalization ? info->mean : zero, 3);
    ax_json_key (&j, "std");
    ax_json_floats (&j, info->has_normalization ? info->std : one, 3);
    ax_json_end_object (&j);
    ax_checkpoint_writer_set_meta (w, "normalization", j.out.data);
    ax_strbuf_free (&j.out);
  }
  for (int i = 0; i < spec->n_layers && !lrn; i++)
    if (spec->layers[i].kind == AX_LAYER_LRN)
      lrn = &spec->layers[i].p.lrn;
  if (lrn) {
    ax_json_writer j = { 0 };
    ax_json_begin_object (&j);
    ax_json_key (&j, "size");
    ax_json_int (&j, lrn->size);
    ax_json_key (&j, "alpha");
    ax_json_double (&j, lrn->alpha);
    ax_json_key (&j, "beta");
    ax_json_double (&j, lrn->beta);
    ax_json_key (&j, "k");
    ax_json_double (&j, lrn->k);
    ax_json_key (&j, "alpha_divided_by_size");
    ax_json_bool (&j, lrn->alpha_divided_by_size);
    ax_json_end_object (&j);
    ax_checkpoint_writer_set_meta (w, "lrn", j.out.data);
    ax_strbuf_free (&j.out);
  }
}

static void
put_meta (ax_checkpoint_writer *w, ax_net *net,
    const ax_net_checkpoint_info *info)
{
  const ax_net_spec *spec = ax_net_get_spec (net);
  char text[128];
  int div = width_divisor_of (spec);

  ax_checkpoint_writer_set_meta (w, "format", FORMAT_NAME);
  snprintf (text, sizeof text, "%d", FORMAT_VERSION);
  ax_checkpoint_writer_set_meta (w, "format_version", text);
  ax_checkpoint_writer_set_meta (w, "architecture", spec->arch);
  snprintf (text, sizeof text, "%d", spec->n_classes);
  ax_checkpoint_writer_set_meta (w, "num_classes", text);
  snprintf (text, sizeof text, "%d", spec->in_h);
  ax_checkpoint_writer_set_meta (w, "input_size", text);
  if (div != 1) {
    snprintf (text, sizeof text, "%d", div);
    ax_checkpoint_writer_set_meta (w, "width_divisor", text);
  }
  put_meta_json (w, spec, info);
  if (info->init)
    ax_checkpoint_writer_set_meta (w, "init", info->init);
  if (info->extra)
    ax_checkpoint_writer_set_meta (w, "extra", info->extra);
  if (!info->has_training_state)
    return;
  snprintf (text, sizeof text, "%" PRIu64, ax_net_step (net));
  ax_checkpoint_writer_set_meta (w, "step", text);
  snprintf (text, sizeof text, "%" PRIu64, info->epoch);
  ax_checkpoint_writer_set_meta (w, "epoch", text);
  ax_json_format_double (text, info->learning_rate);
  ax_checkpoint_writer_set_meta (w, "learning_rate", text);
  snprintf (text, sizeof text, "%" PRIu64, ax_net_dropout_seed (net));
  ax_checkpoint_writer_set_meta (w, "dropout_seed", text);
  if (info->has_rng) {
    uint64_t bits;
    ax_ckpt_u64_to_hex (info->rng.s, 4, text);
    ax_checkpoint_writer_set_meta (w, "rng_state", text);
    if (info->rng.has_spare) {
      memcpy (&bits, &info->rng.spare, sizeof bits);
      ax_ckpt_u64_to_hex (&bits, 1, text);
      ax_checkpoint_writer_set_meta (w, "rng_spare", text);
    }
  }
}

ax_status
ax_net_checkpoint_save (ax_net *net, const char *path,
    const ax_net_checkpoint_info *info, char *err, size_t err_size)
{
  ax_net_checkpoint_info none = { 0 };
  int n = net ? ax_net_n_params (net) : 0, with_v;
  size_t off = 0;
  float *host = NULL;
  int64_t *counts = NULL;
  ax_checkpoint_writer *w = NULL;
  ax_status st = AX_OK;
  char name[128];

  if (!net || !path)
    return fail (err, err_size, AX_ERR_INVALID_ARG, "no network or path");
  if (!info)
    info = &none;
  with_v = info->has_training_state;
  host = malloc ((staged_floats (net, with_v) + 1) * sizeof (float));
  counts = calloc ((size_t) n + 1, sizeof *counts);
  w = ax_checkpoint_writer_new ();
  if (!host || !counts || !w) {
    st = fail (err, err_size, AX_ERR_NO_MEMORY, "%s: out of memory", path);
    goto out;
  }
  for (int i = 0; i < n && st == AX_OK; i++) {
    const ax_param_info *p = ax_net_param (net, i);
    ax_ckpt_shape shape = param_shape (p);
    if (p->dtype == AX_PARAM_I64) {
      /* num_batches_tracked: an int64 scalar, as torchvision's */
      st = ax_net_param_get_i64 (net, i, &counts[i], 1);
      ax_checkpoint_writer_add (w, p->name, AX_CKPT_I64, &shape, &counts[i]);
      continue;
    }
    /* buffers have no momentum */
    for (int v = 0; v <= (with_v && !p->is_buffer) && st == AX_OK; v++) {
      st = ax_net_param_get (net, i, v ? AX_PARAM_MOMENTUM : AX_PARAM_VALUE,
          host + off, p->count);
      snprintf (name, sizeof name, "%s%s", v ? MOMENTUM_PREFIX : "", p->name);
      ax_checkpoint_writer_add (w, name, AX_CKPT_F32, &shape, host + off);
      off += p->count;
    }
  }
  if (st != AX_OK) {
    st = fail (err, err_size, st, "%s: reading the parameters failed: %s",
        path, ax_net_last_error (net));
    goto out;
  }
  put_meta (w, net, info);
  st = from_ckpt (ax_checkpoint_writer_write (w, path, err, err_size));
out:
  ax_checkpoint_writer_free (w);
  free (host);
  free (counts);
  return st;
}

/* ---- reading ---- */

void
ax_net_checkpoint_info_clear (ax_net_checkpoint_info *info)
{
  if (!info)
    return;
  free (info->class_names);     /* one block, as ax_checkpoint_meta_strings */
  free (info->init);
  free (info->extra);
  memset (info, 0, sizeof (*info));
}

static char *
dup_or_null (const char *s)
{
  char *d;
  if (!s)
    return NULL;
  d = malloc (strlen (s) + 1);
  if (d)
    strcpy (d, s);
  return d;
}

static ax_status
meta_int (const ax_checkpoint *ck, const char *path, const char *key,
    int required, int64_t lo, int64_t hi, int64_t *value, char *err,
    size_t err_size)
{
  char why[256];

  if (!ax_checkpoint_meta (ck, key)) {
    if (!required)
      return AX_OK;
    return fail (err, err_size, AX_ERR_FORMAT, "%s: metadata key '%s' is "
        "missing", path, key);
  }
  if (ax_checkpoint_meta_i64 (ck, key, value, why, sizeof why) != AX_CKPT_OK
      || *value < lo || *value > hi)
    return fail (err, err_size, AX_ERR_FORMAT, "%s: metadata '%s' = '%s' is "
        "not a whole number in [%" PRId64 ", %" PRId64 "]", path, key,
        ax_checkpoint_meta (ck, key), lo, hi);
  return AX_OK;
}

/* Three numbers of array `key` of a JSON object. */
static int
json_vec3 (const ax_json *obj, const char *key, float out[3])
{
  const ax_json *a = ax_json_get (obj, key);
  if (!a || a->type != AX_JSON_ARRAY || a->count != 3)
    return 0;
  for (int i = 0; i < 3; i++) {
    if (a->items[i].type != AX_JSON_NUMBER)
      return 0;
    out[i] = (float) a->items[i].number;
  }
  return 1;
}

/* 1 when a metadata value that failed to parse looks written in a locale
 * whose decimal point is a comma ("0,485000014"): a digit, a comma and a
 * digit, and no '.' anywhere. Versions before 0.1.1 wrote numbers with
 * the locale's printf. */
static int
comma_decimal (const char *text)
{
  if (!text || strchr (text, '.'))
    return 0;
  for (const char *p = text; *p; p++)
    if (*p == ',' && p > text && p[-1] >= '0' && p[-1] <= '9'
        && p[1] >= '0' && p[1] <= '9')
      return 1;
  return 0;
}

/* The error for such a value: what happened and what to do. */
static ax_status
fail_comma (char *err, size_t err_size, const char *path, const char *key,
    const char *text)
{
  return fail (err, err_size, AX_ERR_FORMAT, "%s: metadata '%s' = '%.80s' "
      "has numbers written with a decimal comma: the file was written by "
      "alexnet-train before gst-alexnet 0.1.1 in a locale that writes 0,5 "
      "for 0.5 (de_DE, fr_FR...). Its weights are intact: repair the "
      "metadata with `tools/repair-comma-checkpoint.py %s` (it asks for "
      "the mean and std when the file cannot tell them), then load it "
      "again", path, key, text, path);
}

static ax_status
read_normalization (const ax_checkpoint *ck, const char *path,
    ax_net_checkpoint_info *info, char *err, size_t err_size)
{
  const char *text = ax_checkpoint_meta (ck, "normalization");
  char why[256];
  ax_json *j;
  int ok;

  if (!text)
    return AX_OK;
  j = ax_json_parse (text, strlen (text), why, sizeof why);
  ok = j && json_vec3 (j, "mean", info->mean) && json_vec3 (j, "std",
      info->std);
  ax_json_free (j);
  if (!ok && comma_decimal (text))
    return fail_comma (err, err_size, path, "normalization", text);
  if (!ok)
    return fail (err, err_size, AX_ERR_FORMAT, "%s: metadata "
        "'normalization' must be {\"mean\":[r,g,b],\"std\":[r,g,b]}", path);
  for (int c = 0; c < 3; c++)
    if (!(info->std[c] > 0.0f))
      return fail (err, err_size, AX_ERR_FORMAT, "%s: normalization std "
          "must be positive", path);
  info->has_normalization = 1;
  return AX_OK;
}

static ax_status
read_training_state (const ax_checkpoint *ck, const char *path,
    ax_net_checkpoint_info *info, char *err, size_t err_size)
{
  const char *lr = ax_checkpoint_meta (ck, "learning_rate");
  const char *rng = ax_checkpoint_meta (ck, "rng_state");
  const char *spare = ax_checkpoint_meta (ck, "rng_spare");
  int64_t v = 0;
  ax_status st;
  char *end = NULL;

  if (!ax_checkpoint_meta (ck, "step"))
    return AX_OK;
  if ((st = meta_int (ck, path, "step", 1, 0, INT64_MAX, &v, err,
              err_size)) != AX_OK)
    return st;
  info->step = (uint64_t) v;
  if ((st = meta_int (ck, path, "epoch", 1, 0, INT64_MAX, &v, err,
              err_size)) != AX_OK)
    return st;
  info->epoch = (uint64_t) v;
  if (ax_checkpoint_meta (ck, "dropout_seed")) {
    const char *text = ax_checkpoint_meta (ck, "dropout_seed");
    char *stop = NULL;
    errno = 0;
    info->dropout_seed = strtoull (text, &stop, 10);
    if (errno || stop == text || *stop != '\0' || text[0] == '-')
      return fail (err, err_size, AX_ERR_FORMAT, "%s: metadata "
          "'dropout_seed' = '%s' is not a 64-bit unsigned number", path,
          text);
  }
  if (lr && comma_decimal (lr))
    return fail_comma (err, err_size, path, "learning_rate", lr);
  if (!lr || (info->learning_rate = ax_json_strtod (lr, &end), *end != '\0')
      || end == lr || !isfinite (info->learning_rate)
      || !(info->learning_rate >= 0.0))
    return fail (err, err_size, AX_ERR_FORMAT, "%s: metadata 'learning_rate' "
        "is missing or not a finite number >= 0 ('%.40s'); resume from "
        "another checkpoint or set learning-rate without resume", path,
        lr ? lr : "");
  if (rng) {
    uint64_t bits;
    if (!ax_ckpt_hex_to_u64 (rng, info->rng.s, 4))
      return fail (err, err_size, AX_ERR_FORMAT, "%s: metadata 'rng_state' "
          "must be 64 hex digits", path);
    if (spare) {
      if (!ax_ckpt_hex_to_u64 (spare, &bits, 1))
        return fail (err, err_size, AX_ERR_FORMAT, "%s: metadata "
            "'rng_spare' must be 16 hex digits", path);
      memcpy (&info->rng.spare, &bits, sizeof bits);
      info->rng.has_spare = 1;
    }
    info->has_rng = 1;
  }
  info->has_training_state = 1;
  return AX_OK;
}

static ax_status
read_info (const ax_checkpoint *ck, const char *path,
    ax_net_checkpoint_info *info, char *err, size_t err_size)
{
  const char *fmt = ax_checkpoint_meta (ck, "format");
  const char *ver = ax_checkpoint_meta (ck, "format_version");
  const char *arch = ax_checkpoint_meta (ck, "architecture");
  int64_t v = 0;
  ax_status st;

  memset (info, 0, sizeof (*info));
  if (!fmt || strcmp (fmt, FORMAT_NAME) != 0)
    return fail (err, err_size, AX_ERR_FORMAT, "%s: not a gst-alexnet "
        "checkpoint (metadata 'format' is %s%s%s)", path, fmt ? "'" : "",
        fmt ? fmt : "missing", fmt ? "'" : "");
  if (!ver || strcmp (ver, "1") != 0)
    return fail (err, err_size, AX_ERR_FORMAT, "%s: checkpoint format "
        "version %s is not supported (this program reads version 1)", path,
        ver ? ver : "(missing)");
  if (!arch || strlen (arch) >= sizeof info->arch)
    return fail (err, err_size, AX_ERR_FORMAT, "%s: metadata 'architecture' "
        "is missing", path);
  snprintf (info->arch, sizeof info->arch, "%s", arch);
  if ((st = meta_int (ck, path, "num_classes", 1, 1, 1 << 20, &v, err,
              err_size)) != AX_OK)
    return st;
  info->n_classes = (int) v;
  if ((st = meta_int (ck, path, "input_size", 1, 1, 4096, &v, err,
              err_size)) != AX_OK)
    return st;
  info->input_size = (int) v;
  v = 1;
  if ((st = meta_int (ck, path, "width_divisor", 0, 1, 1024, &v, err,
              err_size)) != AX_OK)
    return st;
  info->width_divisor = (int) v;
  if (ax_checkpoint_meta (ck, "class_names")) {
    size_t count = 0;
    char why[256];
    if (ax_checkpoint_meta_strings (ck, "class_names", &info->class_names,
            &count, why, sizeof why) != AX_CKPT_OK)
      return fail_named (err, err_size, AX_ERR_FORMAT, path, why);
    if ((int) count != info->n_classes)
      return fail (err, err_size, AX_ERR_FORMAT, "%s: %zu class names for "
          "%d classes", path, count, info->n_classes);
  }
  if ((st = read_normalization (ck, path, info, err, err_size)) != AX_OK)
    return st;
  info->init = dup_or_null (ax_checkpoint_meta (ck, "init"));
  info->extra = dup_or_null (ax_checkpoint_meta (ck, "extra"));
  return read_training_state (ck, path, info, err, err_size);
}

ax_status
ax_net_checkpoint_read_info (const char *path, ax_net_checkpoint_info *info,
    char *err, size_t err_size)
{
  ax_checkpoint *ck = NULL;
  ax_status st;

  if (!path || !info)
    return fail (err, err_size, AX_ERR_INVALID_ARG, "no path or info");
  memset (info, 0, sizeof (*info));
  st = from_ckpt (ax_checkpoint_open (path, &ck, err, err_size));
  if (st != AX_OK)
    return st;
  st = read_info (ck, path, info, err, err_size);
  if (st != AX_OK)
    ax_net_checkpoint_info_clear (info);
  ax_checkpoint_close (ck);
  return st;
}

/* ---- loading ---- */

/* The file must describe the net: architecture, classes, input, widths. */
static ax_status
check_matches (ax_net *net, const char *path,
    const ax_net_checkpoint_info *info, char *err, size_t err_size)
{
  const ax_net_spec *spec = ax_net_get_spec (net);

  if (strcmp (info->arch, spec->arch) != 0)
    return fail (err, err_size, AX_ERR_FORMAT, "%s: the checkpoint is an %s "
        "network, this one is %s", path, info->arch, spec->arch);
  if (info->n_classes != spec->n_classes)
    return fail (err, err_size, AX_ERR_FORMAT, "%s: the checkpoint has %d "
        "classes, this network %d", path, info->n_classes, spec->n_classes);
  if (info->input_size != spec->in_h)
    return fail (err, err_size, AX_ERR_FORMAT, "%s: the checkpoint's input "
        "is %dx%d, this network's %dx%d", path, info->input_size,
        info->input_size, spec->in_h, spec->in_w);
  return AX_OK;
}

/* 1 if `name` ends with `suffix`. */
static int
ends_with (const char *name, const char *suffix)
{
  size_t n = strlen (name), m = strlen (suffix);
  return n >= m && strcmp (name + n - m, suffix) == 0;
}

/* num_batches_tracked of buffer p into *count: an I64 scalar, as
 * torchvision writes it; a file without it counts 0, as PyTorch loads a
 * state dict from before the counter existed. */
static ax_status
stage_count (const ax_checkpoint *ck, const char *path,
    const ax_param_info *p, int64_t *count, char *err, size_t err_size)
{
  ax_ckpt_shape scalar = param_shape (p);
  const ax_ckpt_tensor *t = ax_checkpoint_find (ck, p->name);
  char why[256];

  *count = 0;
  if (!t)
    return AX_OK;
  if (ax_checkpoint_get (ck, t->name, AX_CKPT_I64, &scalar, count, why,
          sizeof why) != AX_CKPT_OK)
    return fail_named (err, err_size, AX_ERR_FORMAT, path, why);
  if (*count < 0)
    return fail (err, err_size, AX_ERR_FORMAT, "%s: tensor '%s' is %lld: a "
        "count of batches is not negative", path, t->name, (long long) *count);
  return AX_OK;
}

/* Copies every parameter and buffer (and the momentum of the trained ones)
 * of the file into host blocks (floats, and counts: one per parameter),
 * checking names, shapes, dtypes and values, before the net is touched. */
static ax_status
stage_params (ax_net *net, const ax_checkpoint *ck, const char *path,
    const char *arch, int resume, float *host, int64_t *counts, char *err,
    size_t err_size)
{
  size_t off = 0;
  char why[256];

  for (int i = 0; i < ax_net_n_params (net); i++) {
    const ax_param_info *p = ax_net_param (net, i);
    ax_ckpt_shape shape = param_shape (p);
    if (p->dtype == AX_PARAM_I64) {
      ax_status st = stage_count (ck, path, p, &counts[i], err, err_size);
      if (st != AX_OK)
        return st;
      continue;
    }
    for (int v = 0; v <= (resume && !p->is_buffer); v++) {
      const ax_ckpt_tensor *t = find_param (ck, arch,
          v ? MOMENTUM_PREFIX : "", p->name);
      if (!t)
        return fail (err, err_size, AX_ERR_FORMAT, "%s: no tensor '%s%s'%s",
            path, v ? MOMENTUM_PREFIX : "", p->name, v ? " (resuming needs "
            "the momentum buffers)" : "");
      if (ax_checkpoint_get_f32 (ck, t->name, &shape, host + off, why,
              sizeof why) != AX_CKPT_OK)
        return fail_named (err, err_size, AX_ERR_FORMAT, path, why);
      for (size_t k = 0; k < p->count; k++)
        if (!isfinite (host[off + k]))
          return fail (err, err_size, AX_ERR_NONFINITE, "%s: tensor '%s' "
              "holds NaN or infinity", path, t->name);
      for (size_t k = 0; p->is_buffer && ends_with (p->name, ".running_var")
          && k < p->count; k++)
        if (host[off + k] < 0.0f)
          return fail (err, err_size, AX_ERR_FORMAT, "%s: tensor '%s' holds "
              "a negative variance (%g at %zu)", path, t->name,
              (double) host[off + k], k);
      off += p->count;
    }
  }
  return AX_OK;
}

static ax_status
apply_params (ax_net *net, int resume, const float *host,
    const int64_t *counts, const char *path, char *err, size_t err_size)
{
  size_t off = 0;

  for (int i = 0; i < ax_net_n_params (net); i++) {
    const ax_param_info *p = ax_net_param (net, i);
    ax_status st = AX_OK;
    if (p->dtype == AX_PARAM_I64)
      st = ax_net_param_set_i64 (net, i, &counts[i], 1);
    for (int v = 0; p->dtype == AX_PARAM_F32
        && v <= (resume && !p->is_buffer) && st == AX_OK; v++) {
      st = ax_net_param_set (net, i, v ? AX_PARAM_MOMENTUM
          : AX_PARAM_VALUE, host + off, p->count);
      off += p->count;
    }
    if (st != AX_OK)
      return fail (err, err_size, st, "%s: setting %s failed: %s", path,
          p->name, ax_net_last_error (net));
  }
  return AX_OK;
}

ax_status
ax_net_checkpoint_load (ax_net *net, const char *path, int resume,
    ax_net_checkpoint_info *info_out, char *err, size_t err_size)
{
  ax_net_checkpoint_info info = { 0 };
  ax_checkpoint *ck = NULL;
  float *host = NULL;
  int64_t *counts = NULL;
  ax_status st;

  if (!net || !path)
    return fail (err, err_size, AX_ERR_INVALID_ARG, "no network or path");
  st = from_ckpt (ax_checkpoint_open (path, &ck, err, err_size));
  if (st != AX_OK)
    return st;
  if ((st = read_info (ck, path, &info, err, err_size)) != AX_OK
      || (st = check_matches (net, path, &info, err, err_size)) != AX_OK)
    goto out;
  if (resume && !info.has_training_state) {
    st = fail (err, err_size, AX_ERR_FORMAT, "%s: has no training state "
        "(step, momentum) to resume from; use it to initialise instead",
        path);
    goto out;
  }
  host = malloc ((staged_floats (net, resume) + 1) * sizeof (float));
  counts = calloc ((size_t) ax_net_n_params (net) + 1, sizeof *counts);
  if (!host || !counts) {
    st = fail (err, err_size, AX_ERR_NO_MEMORY, "%s: out of memory", path);
    goto out;
  }
  st = stage_params (net, ck, path, info.arch, resume, host, counts, err,
      err_size);
  if (st == AX_OK)
    st = apply_params (net, resume, host, counts, path, err, err_size);
  if (st == AX_OK && resume) {
    ax_net_set_step (net, info.step);
    ax_net_set_dropout_seed (net, info.dropout_seed);
  }
out:
  free (host);
  free (counts);
  ax_checkpoint_close (ck);
  if (st == AX_OK && info_out)
    *info_out = info;
  else
    ax_net_checkpoint_info_clear (&info);
  return st;
}

void
ax_net_checkpoint_input_lut (const ax_net_checkpoint_info *info,
    float lut[3][256])
{
  static const float zero[3] = { 0, 0, 0 }, one[3] = { 1, 1, 1 };
  if (info->has_normalization)
    ax_rgb_norm_lut (lut, info->mean, info->std);
  else
    ax_rgb_norm_lut (lut, zero, one);
}

/* ---- copying layers from another architecture ---- */

/* Whether `name` is in the comma-separated list (NULL: every name). */
static int
in_list (const char *list, const char *name)
{
  size_t n = strlen (name);
  for (const char *p = list; p && *p;) {
    const char *e = strchr (p, ',');
    size_t len = e ? (size_t) (e - p) : strlen (p);
    if (len == n && strncmp (p, name, n) == 0)
      return 1;
    p = e ? e + 1 : NULL;
  }
  return list == NULL;
}

/* Appends name to a comma-separated list in buf. */
static void
list_add (char *buf, size_t size, const char *name)
{
  size_t len = strlen (buf);
  if (size > len)
    snprintf (buf + len, size - len, "%s%s", len ? "," : "", name);
}

ax_status
ax_net_checkpoint_copy_layers (ax_net *net, const char *path,
    const char *only, char *copied, size_t copied_size, char *skipped,
    size_t skipped_size, char *err, size_t err_size)
{
  ax_net_checkpoint_info info = { 0 };
  ax_checkpoint *ck = NULL;
  ax_net_spec src;
  float *host = NULL;
  int n_copy = 0, *which = NULL;
  ax_status st;

  if (!net || !path || !copied || !skipped)
    return fail (err, err_size, AX_ERR_INVALID_ARG, "no network or path");
  copied[0] = skipped[0] = '\0';
  if ((st = from_ckpt (ax_checkpoint_open (path, &ck, err, err_size))) != AX_OK)
    return st;
  if ((st = read_info (ck, path, &info, err, err_size)) != AX_OK)
    goto out;
  st = ax_net_spec_by_arch (&src, info.arch, info.n_classes, info.input_size);
  if (st == AX_OK && info.width_divisor > 1)
    st = ax_net_spec_narrow (&src, info.width_divisor);
  if (st != AX_OK) {
    st = fail (err, err_size, AX_ERR_FORMAT, "%s: architecture %s (%d "
        "classes, %dx%d, widths / %d) is not one this program builds", path,
        info.arch, info.n_classes, info.input_size, info.input_size,
        info.width_divisor);
    goto out;
  }
  /* stage every tensor of the layers that match, then set them */
  const ax_net_spec *dst = ax_net_get_spec (net);
  int n = ax_net_n_params (net);
  size_t total = 0;
  which = calloc ((size_t) n + 1, sizeof *which);
  if (!which) {
    st = fail (err, err_size, AX_ERR_NO_MEMORY, "%s: out of memory", path);
    goto out;
  }
  for (int l = 0; l < dst->n_layers; l++) {
    const ax_layer_spec *dl = &dst->layers[l];
    const ax_layer_spec *sl = NULL;
    for (int k = 0; k < src.n_layers && !sl; k++)
      if (strcmp (src.layers[k].name, dl->name) == 0
          && src.layers[k].kind == dl->kind)
        sl = &src.layers[k];
    if (!sl || !in_list (only, dl->name) || (dl->kind != AX_LAYER_CONV
            && dl->kind != AX_LAYER_FC && dl->kind != AX_LAYER_BATCHNORM))
      continue;
    int match = 0, first = n_copy;
    for (int p = 0; p < n; p++) {
      const ax_param_info *i = ax_net_param (net, p);
      if (i->layer != l)
        continue;
      /* the file's tensor: the source layer's prefix, the same field */
      const char *field = i->name + strlen (dl->param_prefix);
      char name[AX_NAME_MAX * 2 + 8];
      snprintf (name, sizeof name, "%s%s", sl->param_prefix, field);
      const ax_ckpt_tensor *t = ax_checkpoint_find (ck, name);
      ax_ckpt_shape want = param_shape (i);
      int same = t && t->dtype == (i->dtype == AX_PARAM_I64 ? AX_CKPT_I64
          : AX_CKPT_F32) && t->shape.ndim == want.ndim;
      for (int d = 0; same && d < want.ndim; d++)
        same = t->shape.dim[d] == want.dim[d];
      match = (first == n_copy || match) && same;
      if (!same)
        break;
      which[n_copy++] = p;
    }
    if (match && n_copy > first) {
      list_add (copied, copied_size, dl->name);
    } else {
      n_copy = first;           /* the name, but other shapes */
      list_add (skipped, skipped_size, dl->name);
    }
  }
  for (int c = 0; c < n_copy; c++)
    total += ax_net_param (net, which[c])->count;
  host = malloc ((total + 1) * sizeof *host);
  if (!host) {
    st = fail (err, err_size, AX_ERR_NO_MEMORY, "%s: out of memory", path);
    goto out;
  }
  /* read and check everything first: nothing changes on a bad tensor */
  size_t off = 0;
  for (int c = 0; c < n_copy && st == AX_OK; c++) {
    const ax_param_info *i = ax_net_param (net, which[c]);
    const ax_layer_spec *dl = &dst->layers[i->layer];
    const ax_layer_spec *sl = NULL;
    for (int k = 0; k < src.n_layers && !sl; k++)
      if (strcmp (src.layers[k].name, dl->name) == 0)
        sl = &src.layers[k];
    char name[AX_NAME_MAX * 2 + 8], why[256];
    snprintf (name, sizeof name, "%s%s", sl->param_prefix,
        i->name + strlen (dl->param_prefix));
    ax_ckpt_shape want = param_shape (i);
    if (i->dtype == AX_PARAM_I64) {
      int64_t v = 0;
      if (ax_checkpoint_get (ck, name, AX_CKPT_I64, &want, &v, why,
              sizeof why) != AX_CKPT_OK || v < 0)
        st = fail (err, err_size, AX_ERR_FORMAT, "%s: %s: bad counter",
            path, name);
      host[off] = 0.0f;
      off += 1;
      continue;
    }
    if (ax_checkpoint_get_f32 (ck, name, &want, host + off, why, sizeof why)
        != AX_CKPT_OK) {
      st = fail_named (err, err_size, AX_ERR_FORMAT, path, why);
      break;
    }
    for (size_t k = 0; k < i->count; k++)
      if (!isfinite (host[off + k])) {
        st = fail (err, err_size, AX_ERR_NONFINITE, "%s: %s holds NaN or "
            "infinity", path, name);
        break;
      }
    off += i->count;
  }
  off = 0;
  for (int c = 0; c < n_copy && st == AX_OK; c++) {
    const ax_param_info *i = ax_net_param (net, which[c]);
    if (i->dtype == AX_PARAM_I64) {
      off += 1;                 /* counters start again at 0 */
      continue;
    }
    st = ax_net_param_set (net, which[c], AX_PARAM_VALUE, host + off,
        i->count);
    if (st != AX_OK)
      fail (err, err_size, st, "%s: %s: %s", path, i->name,
          ax_net_last_error (net));
    off += i->count;
  }
out:
  free (host);
  free (which);
  ax_checkpoint_close (ck);
  ax_net_checkpoint_info_clear (&info);
  return st;
}
