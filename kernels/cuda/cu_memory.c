/* Memory and transfers of the CUDA backend. Everything runs on the
 * backend's stream: uploads go through two pinned staging buffers (so the
 * caller's pageable memory is free again on return, and the next upload
 * need not wait for the compute queued before this one), downloads wait
 * for the stream, and copies between two backends are ordered on both
 * streams with events. */
#include "cu_internal.h"

#include <string.h>

ax_status
axcu_alloc (ax_backend *backend, size_t bytes, void **ptr)
{
  axcu_backend *be = AXCU_BE (backend);
  SET_DEVICE (be);
  /* cudaMalloc aligns to 256 bytes, more than AX_ALIGN. */
  return axcu_malloc (be, bytes, ptr, "slab");
}

void
axcu_free (ax_backend *backend, void *ptr)
{
  axcu_backend *be = AXCU_BE (backend);
  if (cudaSetDevice (be->device) != cudaSuccess)
    return;
  /* cudaFree waits for the device; queued work using ptr ends first. */
  if (cudaFree (ptr) != cudaSuccess)
    (void) cudaGetLastError ();
}

/* Page-locked and portable (pinned for every device, so towers on two
 * GPUs both read it by DMA). */
ax_status
axcu_host_alloc (ax_backend *backend, size_t bytes, void **ptr)
{
  axcu_backend *be = AXCU_BE (backend);
  SET_DEVICE (be);
  cudaError_t e = cudaHostAlloc (ptr, bytes, cudaHostAllocPortable);
  if (e != cudaSuccess) {
    *ptr = NULL;
    (void) cudaGetLastError ();
    return axcu_fail (be, AX_ERR_NO_MEMORY, "cudaHostAlloc of %zu bytes "
        "(pinned host memory): %s", bytes, cudaGetErrorString (e));
  }
  return AX_OK;
}

void
axcu_host_free (ax_backend *backend, void *ptr)
{
  axcu_backend *be = AXCU_BE (backend);
  if (cudaSetDevice (be->device) != cudaSuccess)
    return;
  /* cudaFreeHost waits for the device: no copy is still reading it. */
  if (cudaFreeHost (ptr) != cudaSuccess)
    (void) cudaGetLastError ();
}

/* Nonzero if `p` is page-locked memory the runtime knows (ax_host_alloc,
 * cudaHostAlloc, cudaHostRegister): an upload can DMA from it directly. */
static int
is_pinned (const void *p)
{
  struct cudaPointerAttributes a;
  if (cudaPointerGetAttributes (&a, p) != cudaSuccess) {
    (void) cudaGetLastError ();
    return 0;
  }
  return a.type == cudaMemoryTypeHost;
}

void
axcu_staging_free (axcu_backend *be)
{
  for (int s = 0; s < 2; s++) {
    if (be->stage_done[s]) {
      (void) cudaEventSynchronize (be->stage_done[s]);
      (void) cudaEventDestroy (be->stage_done[s]);
      be->stage_done[s] = NULL;
    }
    if (be->stage[s])
      (void) cudaFreeHost (be->stage[s]);
    be->stage[s] = NULL;
    be->stage_bytes[s] = 0;
  }
}

/* A plain copy as a 2-D one is a single row. */
static ax_copy2d
flatten (const ax_copy2d *c)
{
  ax_copy2d k = *c;
  if (k.rows > 1 && k.width == k.dst_pitch && k.width == k.src_pitch) {
    k.width *= k.rows;
    k.rows = 1;
  }
  if (k.rows == 1)
    k.dst_pitch = k.src_pitch = k.width;
  return k;
}

/* Host rows -> the next staging buffer -> device, queued on the stream. */
static ax_status
stage_upload (axcu_backend *be, char *dst, const char *host, size_t width,
    size_t rows, size_t dst_pitch, size_t src_pitch)
{
  int s = be->stage_next;
  size_t bytes = width * rows;
  be->stage_next ^= 1;
  /* The copy that last read this buffer (two uploads ago) must be done;
   * an event never recorded counts as done. */
  CUDA_TRY (be, cudaEventSynchronize (be->stage_done[s]));
  if (be->stage_bytes[s] < bytes) {
    CUDA_TRY (be, cudaFreeHost (be->stage[s]));
    be->stage[s] = NULL;
    be->stage_bytes[s] = 0;
    cudaError_t e = cudaHostAlloc (&be->stage[s], bytes,
        cudaHostAllocPortable);
    if (e != cudaSuccess) {
      be->stage[s] = NULL;
      (void) cudaGetLastError ();
      return axcu_fail (be, AX_ERR_NO_MEMORY, "cudaHostAlloc of %zu bytes "
          "(upload staging): %s", bytes, cudaGetErrorString (e));
    }
    be->stage_bytes[s] = bytes;
  }
  char *stage = be->stage[s];
  for (size_t r = 0; r < rows; r++)
    memcpy (stage + r * width, host + r * src_pitch, width);
  if (rows == 1)
    CUDA_TRY (be, cudaMemcpyAsync (dst, stage, width,
            cudaMemcpyHostToDevice, be->stream));
  else
    CUDA_TRY (be, cudaMemcpy2DAsync (dst, dst_pitch, stage, width, width,
            rows, cudaMemcpyHostToDevice, be->stream));
  CUDA_TRY (be, cudaEventRecord (be->stage_done[s], be->stream));
  return AX_OK;
}

ax_status
axcu_upload (ax_backend *backend, void *dst, const void *host,
    const ax_copy2d *c)
{
  axcu_backend *be = AXCU_BE (backend);
  ax_copy2d k = flatten (c);
  char *d = dst;
  const char *h = host;
  ax_status st = AX_OK;
  SET_DEVICE (be);
  if (is_pinned (host)) {
    /* Pinned by the caller (a batch from ax_host_alloc): a DMA queued on
     * the stream, no staging copy, no wait; backend.h says the caller
     * leaves the memory alone until the next synchronising call. */
    if (k.rows == 1)
      CUDA_TRY (be, cudaMemcpyAsync (d, h, k.width, cudaMemcpyHostToDevice,
              be->stream));
    else
      CUDA_TRY (be, cudaMemcpy2DAsync (d, k.dst_pitch, h, k.src_pitch,
              k.width, k.rows, cudaMemcpyHostToDevice, be->stream));
    return AX_OK;
  }
  if (k.rows == 1) {
    for (size_t off = 0; off < k.width && st == AX_OK; off += AXCU_STAGE_MAX) {
      size_t n = k.width - off < AXCU_STAGE_MAX ? k.width - off
          : AXCU_STAGE_MAX;
      st = stage_upload (be, d + off, h + off, n, 1, n, n);
    }
    return st;
  }
  if (k.width > AXCU_STAGE_MAX) {
    /* Rows wider than a staging buffer: from pageable memory, and done
     * before returning (the caller may reuse its memory at once). */
    CUDA_TRY (be, cudaMemcpy2DAsync (d, k.dst_pitch, h, k.src_pitch, k.width,
            k.rows, cudaMemcpyHostToDevice, be->stream));
    return axcu_sync (be, "upload");
  }
  size_t per = AXCU_STAGE_MAX / k.width;
  for (size_t r = 0; r < k.rows && st == AX_OK; r += per) {
    size_t n = k.rows - r < per ? k.rows - r : per;
    st = stage_upload (be, d + r * k.dst_pitch, h + r * k.src_pitch, k.width,
        n, k.dst_pitch, k.src_pitch);
  }
  return st;
}

ax_status
axcu_download (ax_backend *backend, void *host, const void *src,
    const ax_copy2d *c)
{
  axcu_backend *be = AXCU_BE (backend);
  ax_copy2d k = flatten (c);
  SET_DEVICE (be);
  if (k.rows == 1)
    CUDA_TRY (be, cudaMemcpyAsync (host, src, k.width,
            cudaMemcpyDeviceToHost, be->stream));
  else
    CUDA_TRY (be, cudaMemcpy2DAsync (host, k.dst_pitch, src, k.src_pitch,
            k.width, k.rows, cudaMemcpyDeviceToHost, be->stream));
  return axcu_sync (be, "download");
}

/* Device to device on `stream`, both pointers on devices (any). */
static cudaError_t
device_copy (void *dst, const void *src, const ax_copy2d *k,
    cudaStream_t stream)
{
  if (k->rows == 1)
    return cudaMemcpyAsync (dst, src, k->width, cudaMemcpyDeviceToDevice,
        stream);
  return cudaMemcpy2DAsync (dst, k->dst_pitch, src, k->src_pitch, k->width,
      k->rows, cudaMemcpyDeviceToDevice, stream);
}

ax_status
axcu_copy (ax_backend *backend, void *dst, const void *src,
    const ax_copy2d *c)
{
  axcu_backend *be = AXCU_BE (backend);
  ax_copy2d k = flatten (c);
  SET_DEVICE (be);
  CUDA_TRY (be, device_copy (dst, src, &k, be->stream));
  return AX_OK;
}

/* Between two devices: the runtime routes it over NVLink/PCIe peer access
 * when enabled, through host memory otherwise. */
static cudaError_t
peer_copy (void *dst, int dst_device, const void *src, int src_device,
    const ax_copy2d *k, cudaStream_t stream)
{
  if (k->rows == 1)
    return cudaMemcpyPeerAsync (dst, dst_device, src, src_device, k->width,
        stream);
  struct cudaMemcpy3DPeerParms p;
  memset (&p, 0, sizeof p);
  p.srcPtr.ptr = (void *) src;
  p.srcPtr.pitch = k->src_pitch;
  p.srcPtr.xsize = k->width;
  p.srcPtr.ysize = k->rows;
  p.srcDevice = src_device;
  p.dstPtr.ptr = dst;
  p.dstPtr.pitch = k->dst_pitch;
  p.dstPtr.xsize = k->width;
  p.dstPtr.ysize = k->rows;
  p.dstDevice = dst_device;
  p.extent.width = k->width;      /* bytes, for linear memory */
  p.extent.height = k->rows;
  p.extent.depth = 1;
  return cudaMemcpy3DPeerAsync (&p, stream);
}

/* Called by the thread that drives `backend` (the destination); the source
 * backend's thread may be queueing its own work meanwhile, which CUDA
 * streams allow. The copy runs on the destination stream after everything
 * queued so far on the source stream, and the source stream waits for the
 * copy before anything queued on it afterwards (which might overwrite the
 * source). Events recorded on a stream must belong to its device, hence
 * one peer_ready event per source device. */
ax_status
axcu_copy_peer (ax_backend *backend, void *dst, ax_backend *src_backend,
    const void *src, const ax_copy2d *c)
{
  axcu_backend *be = AXCU_BE (backend);
  if (!axcu_is_backend (src_backend))
    return axcu_fail (be, AX_ERR_UNSUPPORTED, "copy from %s to cuda",
        src_backend->iface->name);
  axcu_backend *sb = AXCU_BE (src_backend);
  ax_copy2d k = flatten (c);
  if (sb->device >= be->n_devices)
    return axcu_fail (be, AX_ERR_INVALID_ARG, "copy from device %d",
        sb->device);
  cudaEvent_t *ready = &be->peer_ready[sb->device];
  CUDA_TRY (be, cudaSetDevice (sb->device));
  if (!*ready)
    CUDA_TRY (be, cudaEventCreateWithFlags (ready, cudaEventDisableTiming));
  CUDA_TRY (be, cudaEventRecord (*ready, sb->stream));
  SET_DEVICE (be);
  CUDA_TRY (be, cudaStreamWaitEvent (be->stream, *ready, 0));
  if (sb->device == be->device)
    CUDA_TRY (be, device_copy (dst, src, &k, be->stream));
  else
    CUDA_TRY (be, peer_copy (dst, be->device, src, sb->device, &k,
            be->stream));
  CUDA_TRY (be, cudaEventRecord (be->copied, be->stream));
  /* A wait may name an event of another device; queued with the source's
   * device current, as every call on its stream. */
  CUDA_TRY (be, cudaSetDevice (sb->device));
  CUDA_TRY (be, cudaStreamWaitEvent (sb->stream, be->copied, 0));
  SET_DEVICE (be);
  return AX_OK;
}
