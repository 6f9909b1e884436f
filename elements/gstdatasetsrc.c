/* dataset-src: a source of labelled images from a folder in ImageNet layout
 * or a list file. Each file's bytes become one buffer with a label meta;
 * epochs, per-epoch shuffling and disjoint shards as for data-parallel
 * training (like PyTorch's DistributedSampler). */

/**
 * SECTION:element-dataset-src
 * @title: dataset-src
 *
 * Reads a labelled image data set and emits every image file as one
 * `image/jpeg` buffer carrying a #GstAlexnetLabelMeta (class index, class
 * name, sample path, sample index, epoch).
 *
 * The location is either a folder with one sub-folder per class (classes
 * sorted by name give the indices 0..N-1, as torchvision's ImageFolder does)
 * or a list file with one `path label` per line (the label an integer index
 * or a class name; paths relative to the list file's folder).
 *
 * A file that cannot be read (missing, not a regular file, larger than
 * #GstAlexnetDatasetSrc:max-file-size) is skipped and counted in
 * #GstAlexnetDatasetSrc:skipped: the first ten are named in warnings, and
 * every epoch with skipped files ends with one summary warning. A pass over
 * the data set in which no file at all could be read is an error.
 *
 * Before the first buffer it sends a sticky `alexnet/classes` event with the
 * class names, and before the first buffer of every epoch a sticky
 * `alexnet/epoch` event.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 dataset-src location=train/ shuffle=true epochs=1 ! decode ! \
 *     resize-256 ! random-crop-flip ! pca-jitter ! videoconvert ! autovideosink
 * ]|
 */

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>
#include <string.h>
#include <stdlib.h>
#include <errno.h>

#include "elements/gstalexnetelements.h"
#include "elements/gstdatasetsrc.h"
#include "kernels/util/rng.h"
#include "plugin/gstalexnetmeta.h"

GST_DEBUG_CATEGORY_STATIC (gst_alexnet_dataset_src_debug);
#define GST_CAT_DEFAULT gst_alexnet_dataset_src_debug

enum
{
  PROP_0,
  PROP_LOCATION,
  PROP_SHUFFLE,
  PROP_SEED,
  PROP_EPOCHS,
  PROP_SHARD_INDEX,
  PROP_SHARD_COUNT,
  PROP_FRAMERATE,
  PROP_CLASSES,
  PROP_N_SAMPLES,
  PROP_SKIPPED,
  PROP_MAX_CLASSES,
  PROP_MAX_FILE_SIZE,
};

#define DEFAULT_PROP_LOCATION NULL
#define DEFAULT_PROP_SHUFFLE FALSE
#define DEFAULT_PROP_SEED 0
#define DEFAULT_PROP_EPOCHS 1
#define DEFAULT_PROP_SHARD_INDEX 0
#define DEFAULT_PROP_SHARD_COUNT 1
#define DEFAULT_PROP_MAX_CLASSES GST_ALEXNET_DATASET_MAX_CLASSES
#define DEFAULT_PROP_MAX_FILE_SIZE GST_ALEXNET_DATASET_MAX_FILE_SIZE

/* Unreadable files named one by one in warnings; the rest are counted in
 * each epoch's summary, so that a long run does not flood the log. */
#define NAMED_SKIPS 10

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("image/jpeg"));

#define gst_alexnet_dataset_src_parent_class parent_class
G_DEFINE_TYPE (GstAlexnetDatasetSrc, gst_alexnet_dataset_src,
    GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE (dataset_src, "dataset-src", GST_RANK_NONE,
    GST_TYPE_ALEXNET_DATASET_SRC);

static void gst_alexnet_dataset_src_set_property (GObject * object,
    guint prop_id, const GValue * value, GParamSpec * pspec);
static void gst_alexnet_dataset_src_get_property (GObject * object,
    guint prop_id, GValue * value, GParamSpec * pspec);
static void gst_alexnet_dataset_src_finalize (GObject * object);
static gboolean gst_alexnet_dataset_src_start (GstBaseSrc * src);
static gboolean gst_alexnet_dataset_src_stop (GstBaseSrc * src);
static GstCaps *gst_alexnet_dataset_src_get_caps (GstBaseSrc * src,
    GstCaps * filter);
static GstFlowReturn gst_alexnet_dataset_src_create (GstPushSrc * src,
    GstBuffer ** buf);

static void
gst_alexnet_dataset_src_class_init (GstAlexnetDatasetSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_alexnet_dataset_src_debug, "dataset-src", 0,
      "labelled image data set source");

  gobject_class->set_property = gst_alexnet_dataset_src_set_property;
  gobject_class->get_property = gst_alexnet_dataset_src_get_property;
  gobject_class->finalize = gst_alexnet_dataset_src_finalize;

  g_object_class_install_property (gobject_class, PROP_LOCATION,
      g_param_spec_string ("location", "Location",
          "Folder in ImageNet layout (one sub-folder per class, sorted by "
          "name) or a list file with one 'path label' per line",
          DEFAULT_PROP_LOCATION,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_SHUFFLE,
      g_param_spec_boolean ("shuffle", "Shuffle",
          "Visit the samples in a new random order every epoch",
          DEFAULT_PROP_SHUFFLE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_int64 ("seed", "Seed",
          "Seed of the shuffle (the order of epoch e depends on seed and e "
          "only, so every shard sees the same permutation); -1 picks one at "
          "random", -1, G_MAXINT64, DEFAULT_PROP_SEED,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_EPOCHS,
      g_param_spec_uint ("epochs", "Epochs",
          "Number of passes over the data set (0 = forever)", 0, G_MAXUINT,
          DEFAULT_PROP_EPOCHS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_SHARD_INDEX,
      g_param_spec_uint ("shard-index", "Shard index",
          "Which shard of the data set to read (0 .. shard-count-1)", 0,
          G_MAXUINT - 1, DEFAULT_PROP_SHARD_INDEX,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_SHARD_COUNT,
      g_param_spec_uint ("shard-count", "Shard count",
          "Number of disjoint shards: shard i of n reads positions i, i+n, "
          "i+2n ... of each epoch's order, every shard the same number of "
          "samples (the remainder of the division is left out)", 1,
          G_MAXUINT, DEFAULT_PROP_SHARD_COUNT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_FRAMERATE,
      gst_param_spec_fraction ("framerate", "Frame rate",
          "Timestamp the images at this rate so that a display paces them "
          "(0/1 = no timestamps, as fast as downstream takes them)",
          0, 1, G_MAXINT, 1, 0, 1,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_CLASSES,
      gst_param_spec_array ("classes", "Classes",
          "Class names in index order (known once the element has started)",
          g_param_spec_string ("class", "Class", "Class name", NULL,
              G_PARAM_READABLE | G_PARAM_STATIC_STRINGS),
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_N_SAMPLES,
      g_param_spec_uint64 ("n-samples", "Samples",
          "Number of samples in the data set (known once started)", 0,
          G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_SKIPPED,
      g_param_spec_uint64 ("skipped", "Skipped",
          "Files that could not be read and were skipped", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_property (gobject_class, PROP_MAX_CLASSES,
      g_param_spec_uint ("max-classes", "Maximum classes",
          "Refuse a data set with more classes than this: a list's label L "
          "means L+1 classes, so a wrong label would otherwise ask for "
          "gigabytes (ImageNet-21k has 21,841 classes)", 1, G_MAXINT,
          DEFAULT_PROP_MAX_CLASSES,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MAX_FILE_SIZE,
      g_param_spec_uint64 ("max-file-size", "Maximum file size",
          "Skip (and count in 'skipped') image files larger than this many "
          "bytes", 1, G_MAXSSIZE, DEFAULT_PROP_MAX_FILE_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Labelled image data set source", "Source/File",
      "Reads a folder in ImageNet layout or a list of labelled image files, "
      "with shuffling, epochs and shards", "gst-alexnet developers");

  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_alexnet_dataset_src_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_alexnet_dataset_src_stop);
  basesrc_class->get_caps =
      GST_DEBUG_FUNCPTR (gst_alexnet_dataset_src_get_caps);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (gst_alexnet_dataset_src_create);
}

static void
gst_alexnet_dataset_src_init (GstAlexnetDatasetSrc * self)
{
  self->shuffle = DEFAULT_PROP_SHUFFLE;
  self->seed = DEFAULT_PROP_SEED;
  self->epochs = DEFAULT_PROP_EPOCHS;
  self->shard_index = DEFAULT_PROP_SHARD_INDEX;
  self->shard_count = DEFAULT_PROP_SHARD_COUNT;
  self->fps_n = 0;
  self->fps_d = 1;
  self->max_classes = DEFAULT_PROP_MAX_CLASSES;
  self->max_file_size = DEFAULT_PROP_MAX_FILE_SIZE;
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
}

static void
gst_alexnet_dataset_src_finalize (GObject * object)
{
  GstAlexnetDatasetSrc *self = GST_ALEXNET_DATASET_SRC (object);

  g_free (self->location);
  gst_alexnet_dataset_clear (&self->dataset);
  g_free (self->order);
  g_free (self->last_skip);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_alexnet_dataset_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstAlexnetDatasetSrc *self = GST_ALEXNET_DATASET_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LOCATION:
      g_free (self->location);
      self->location = g_value_dup_string (value);
      break;
    case PROP_SHUFFLE:
      self->shuffle = g_value_get_boolean (value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_int64 (value);
      break;
    case PROP_EPOCHS:
      self->epochs = g_value_get_uint (value);
      break;
    case PROP_SHARD_INDEX:
      self->shard_index = g_value_get_uint (value);
      break;
    case PROP_SHARD_COUNT:
      self->shard_count = g_value_get_uint (value);
      break;
    case PROP_FRAMERATE:
      self->fps_n = gst_value_get_fraction_numerator (value);
      self->fps_d = gst_value_get_fraction_denominator (value);
      break;
    case PROP_MAX_CLASSES:
      self->max_classes = g_value_get_uint (value);
      break;
    case PROP_MAX_FILE_SIZE:
      self->max_file_size = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_alexnet_dataset_src_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstAlexnetDatasetSrc *self = GST_ALEXNET_DATASET_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LOCATION:
      g_value_set_string (value, self->location);
      break;
    case PROP_SHUFFLE:
      g_value_set_boolean (value, self->shuffle);
      break;
    case PROP_SEED:
      g_value_set_int64 (value, self->seed);
      break;
    case PROP_EPOCHS:
      g_value_set_uint (value, self->epochs);
      break;
    case PROP_SHARD_INDEX:
      g_value_set_uint (value, self->shard_index);
      break;
    case PROP_SHARD_COUNT:
      g_value_set_uint (value, self->shard_count);
      break;
    case PROP_FRAMERATE:
      gst_value_set_fraction (value, self->fps_n, self->fps_d);
      break;
    case PROP_CLASSES:
      for (guint i = 0; i < self->dataset.n_classes; i++) {
        GValue name = G_VALUE_INIT;
        g_value_init (&name, G_TYPE_STRING);
        g_value_set_string (&name, self->dataset.class_names[i]);
        gst_value_array_append_and_take_value (value, &name);
      }
      break;
    case PROP_N_SAMPLES:
      g_value_set_uint64 (value, self->dataset.n_samples);
      break;
    case PROP_SKIPPED:
      g_value_set_uint64 (value, self->skipped);
      break;
    case PROP_MAX_CLASSES:
      g_value_set_uint (value, self->max_classes);
      break;
    case PROP_MAX_FILE_SIZE:
      g_value_set_uint64 (value, self->max_file_size);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static gboolean
gst_alexnet_dataset_src_start (GstBaseSrc * src)
{
  GstAlexnetDatasetSrc *self = GST_ALEXNET_DATASET_SRC (src);
  GError *err = NULL;
  GstAlexnetDataset dataset = { 0 };

  if (self->location == NULL || self->location[0] == '\0')
    goto no_location;
  if (self->shard_index >= self->shard_count)
    goto bad_shard;

  if (!gst_alexnet_dataset_load_full (&dataset, self->location,
          self->max_classes, &err))
    goto load_failed;

  GST_OBJECT_LOCK (self);
  gst_alexnet_dataset_clear (&self->dataset);
  self->dataset = dataset;
  self->per_shard = dataset.n_samples / self->shard_count;
  g_free (self->order);
  self->order = g_new (guint32, dataset.n_samples);
  self->epoch = 0;
  self->pos = 0;
  self->produced = 0;
  self->skipped = 0;
  self->epoch_read = 0;
  self->epoch_skipped = 0;
  g_clear_pointer (&self->last_skip, g_free);
  self->classes_sent = FALSE;
  self->epoch_sent = FALSE;
  self->effective_seed = gst_alexnet_seed_value (self->seed);
  GST_OBJECT_UNLOCK (self);

  if (self->per_shard == 0)
    goto shard_empty;

  GST_INFO_OBJECT (self, "%" G_GUINT64_FORMAT " samples in %u classes, "
      "%" G_GUINT64_FORMAT " per shard", dataset.n_samples,
      dataset.n_classes, self->per_shard);
  g_object_notify (G_OBJECT (self), "classes");
  return TRUE;

  /* ERRORS */
no_location:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No data set location given: set the 'location' property to a "
            "folder of class sub-folders or to a list file."), (NULL));
    return FALSE;
  }
bad_shard:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("shard-index %u is out of range for shard-count %u.",
            self->shard_index, self->shard_count), (NULL));
    return FALSE;
  }
load_failed:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("%s", err->message),
        ("location: %s", self->location));
    g_clear_error (&err);
    return FALSE;
  }
shard_empty:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("The data set in '%s' has %" G_GUINT64_FORMAT " samples, too few "
            "for %u shards.", self->location, self->dataset.n_samples,
            self->shard_count), (NULL));
    return FALSE;
  }
}

static gboolean
gst_alexnet_dataset_src_stop (GstBaseSrc * src)
{
  GstAlexnetDatasetSrc *self = GST_ALEXNET_DATASET_SRC (src);

  GST_OBJECT_LOCK (self);
  g_clear_pointer (&self->order, g_free);
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static GstCaps *
gst_alexnet_dataset_src_get_caps (GstBaseSrc * src, GstCaps * filter)
{
  GstAlexnetDatasetSrc *self = GST_ALEXNET_DATASET_SRC (src);
  GstCaps *caps = gst_caps_new_simple ("image/jpeg",
      "framerate", GST_TYPE_FRACTION, self->fps_n, self->fps_d, NULL);

  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, caps,
        GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = tmp;
  }
  return caps;
}

/* The order of epoch e: the same for every shard, so shards are disjoint. */
static void
gst_alexnet_dataset_src_make_order (GstAlexnetDatasetSrc * self)
{
  guint64 n = self->dataset.n_samples;

  for (guint64 i = 0; i < n; i++)
    self->order[i] = (guint32) i;
  if (self->shuffle) {
    ax_rng rng;
    ax_rng_seed_stream (&rng, self->effective_seed, self->epoch);
    ax_rng_shuffle_u32 (&rng, self->order, (uint32_t) n);
  }
}

/* Sticky events travel with the next buffer, after the segment. */
static GstFlowReturn
gst_alexnet_dataset_src_store_event (GstAlexnetDatasetSrc * self,
    GstEvent * event)
{
  GstFlowReturn ret = gst_pad_store_sticky_event (GST_BASE_SRC_PAD (self),
      event);
  gst_event_unref (event);
  return ret;
}

/* Counts an unreadable file; the first NAMED_SKIPS are named in warnings. */
static void
gst_alexnet_dataset_src_skip (GstAlexnetDatasetSrc * self,
    const gchar * path, const gchar * why)
{
  guint64 n;

  GST_OBJECT_LOCK (self);
  n = ++self->skipped;
  GST_OBJECT_UNLOCK (self);
  self->epoch_skipped++;
  g_free (self->last_skip);
  self->last_skip = g_strdup_printf ("'%s': %s", path, why);
  if (n <= NAMED_SKIPS)
    GST_ELEMENT_WARNING (self, RESOURCE, READ, ("Skipping %s%s",
            self->last_skip, n == NAMED_SKIPS ? " (further unreadable files "
            "are only counted: see each epoch's summary and the 'skipped' "
            "property)" : ""), (NULL));
  else
    GST_DEBUG_OBJECT (self, "skipping %s", self->last_skip);
}

/* At the end of a pass: an error if not one file could be read (the next
 * pass would fail the same, forever with epochs=0), else a summary of the
 * files skipped. */
static gboolean
gst_alexnet_dataset_src_end_epoch (GstAlexnetDatasetSrc * self)
{
  guint64 skipped = self->epoch_skipped;

  self->epoch_skipped = 0;
  if (self->epoch_read == 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("None of the %" G_GUINT64_FORMAT " files of the data set '%s' "
            "could be read (the last one %s): check that the paths in the "
            "list or folder exist and are readable image files.",
            skipped, self->location, self->last_skip ? self->last_skip :
            "-"), ("epoch %u, shard %u of %u", self->epoch,
            self->shard_index, self->shard_count));
    return FALSE;
  }
  self->epoch_read = 0;
  if (skipped > 0)
    GST_ELEMENT_WARNING (self, RESOURCE, READ,
        ("Epoch %u: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " files "
            "of '%s' could not be read and were skipped (%" G_GUINT64_FORMAT
            " in all; the 'skipped' property counts them).", self->epoch,
            skipped, self->per_shard, self->location, self->skipped),
        (NULL));
  return TRUE;
}

static GstFlowReturn
gst_alexnet_dataset_src_create (GstPushSrc * src, GstBuffer ** buf)
{
  GstAlexnetDatasetSrc *self = GST_ALEXNET_DATASET_SRC (src);
  const GstAlexnetSample *sample;
  GstAlexnetLabelMeta *meta;
  GstBuffer *out;
  GstFlowReturn ret;
  gchar *contents = NULL;
  gsize length = 0;
  GError *err = NULL;

  if (!self->classes_sent) {
    ret = gst_alexnet_dataset_src_store_event (self,
        gst_alexnet_event_new_classes ((const gchar * const *)
            self->dataset.class_names));
    if (ret != GST_FLOW_OK)
      return ret;
    self->classes_sent = TRUE;
  }

next:
  if (self->pos >= self->per_shard) {
    if (!gst_alexnet_dataset_src_end_epoch (self))
      return GST_FLOW_ERROR;
    self->epoch++;
    self->pos = 0;
    self->epoch_sent = FALSE;
  }
  if (self->epochs != 0 && self->epoch >= self->epochs)
    return GST_FLOW_EOS;

  if (!self->epoch_sent) {
    gst_alexnet_dataset_src_make_order (self);
    ret = gst_alexnet_dataset_src_store_event (self,
        gst_alexnet_event_new_epoch (self->epoch, self->per_shard));
    if (ret != GST_FLOW_OK)
      return ret;
    self->epoch_sent = TRUE;
    GST_DEBUG_OBJECT (self, "epoch %u starts", self->epoch);
  }

  sample = &self->dataset.samples[self->order[self->pos * self->shard_count +
          self->shard_index]];
  self->pos++;

  if (!gst_alexnet_dataset_read_sample (sample->path, self->max_file_size,
          &contents, &length, &err)) {
    gst_alexnet_dataset_src_skip (self, sample->path, err->message);
    g_clear_error (&err);
    goto next;
  }
  self->epoch_read++;

  out = gst_buffer_new_wrapped (contents, length);
  GST_BUFFER_OFFSET (out) = self->produced;
  GST_BUFFER_OFFSET_END (out) = self->produced + 1;
  if (self->fps_n > 0) {
    GST_BUFFER_PTS (out) = gst_util_uint64_scale (self->produced,
        GST_SECOND * self->fps_d, self->fps_n);
    GST_BUFFER_DURATION (out) = gst_util_uint64_scale (GST_SECOND,
        self->fps_d, self->fps_n);
  }
  meta = gst_buffer_add_alexnet_label_meta (out, sample->label,
      sample->label >= 0 ? self->dataset.class_names[sample->label] : NULL,
      sample->path);
  if (meta != NULL) {
    meta->sample_index = sample->index;
    meta->epoch = self->epoch;
    meta->view = 0;
    meta->n_views = 1;
  }
  self->produced++;
  *buf = out;
  return GST_FLOW_OK;
}
