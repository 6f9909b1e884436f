/* Batch normalisation (torch.nn.BatchNorm2d) of the CUDA backend on cuDNN's
 * spatial batch norm: cudnnBatchNormalizationForwardTraining updates the
 * running statistics itself (exponentialAverageFactor = momentum; its
 * running variance is the unbiased one, as PyTorch's, which calls the same
 * function) and saves the batch's mean and inverse standard deviation into
 * the workspace ([0, C) and [C, 2C)) for cudnnBatchNormalizationBackward;
 * evaluation is cudnnBatchNormalizationForwardInference on the running
 * statistics. k->x describes the maps, k->bias the (1, C, 1, 1) tensors. */
#include "cu_internal.h"

ax_status
axcu_batchnorm_prepare (axcu_backend *be, axcu_kernel *k, const ax_op *op,
    const ax_op_shapes_t *s)
{
  if (op->p.bn.eps < CUDNN_BN_MIN_EPSILON)
    return axcu_fail (be, AX_ERR_UNSUPPORTED, "batchnorm: eps %g is below "
        "cuDNN's minimum %g", op->p.bn.eps, (double) CUDNN_BN_MIN_EPSILON);
  ax_status st = axcu_tensor_desc (be, &k->x, s->in);
  if (st != AX_OK)
    return st;
  DNN_TRY (be, cudnnCreateTensorDescriptor (&k->bias));
  DNN_TRY (be, cudnnDeriveBNTensorDescriptor (k->bias, k->x,
          CUDNN_BATCHNORM_SPATIAL));
  if (!op->forward_only)
    k->head.workspace = ax_shape_make (1, 1, 1, 2 * s->in.c);
  return AX_OK;
}

ax_status
axcu_batchnorm_forward (ax_kernel *kernel, ax_tensor *out,
    ax_tensor *workspace, ax_tensor *running_mean, ax_tensor *running_var,
    const ax_tensor *in, const ax_tensor *weight, const ax_tensor *bias,
    int training)
{
  axcu_kernel *k = AXCU_K (kernel);
  axcu_backend *be = AXCU_BE (kernel->backend);
  const ax_bn_params *p = &kernel->op.p.bn;
  const float one = 1.0f, zero = 0.0f;
  SET_DEVICE (be);
  if (!training) {
    DNN_TRY (be, cudnnBatchNormalizationForwardInference (be->dnn,
            CUDNN_BATCHNORM_SPATIAL, &one, &zero, k->x, in->data, k->x,
            out->data, k->bias, weight->data, bias->data, running_mean->data,
            running_var->data, p->eps));
    return AX_OK;
  }
  float *mean = workspace->data, *inv_std = mean + kernel->shapes.in.c;
  DNN_TRY (be, cudnnBatchNormalizationForwardTraining (be->dnn,
          CUDNN_BATCHNORM_SPATIAL, &one, &zero, k->x, in->data, k->x,
          out->data, k->bias, weight->data, bias->data, p->momentum,
          running_mean->data, running_var->data, p->eps, mean, inv_std));
  return AX_OK;
}

/* dweight and dbias accumulate (alphaParamDiff 1, betaParamDiff 1). */
ax_status
axcu_batchnorm_backward (ax_kernel *kernel, ax_tensor *din,
    ax_tensor *dweight, ax_tensor *dbias, const ax_tensor *dout,
    const ax_tensor *in, const ax_tensor *weight, const ax_tensor *workspace)
{
  axcu_kernel *k = AXCU_K (kernel);
  axcu_backend *be = AXCU_BE (kernel->backend);
  const float one = 1.0f, zero = 0.0f;
  const float *mean = workspace->data;
  const float *inv_std = mean + kernel->shapes.in.c;
  SET_DEVICE (be);
  DNN_TRY (be, cudnnBatchNormalizationBackward (be->dnn,
          CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &one, k->x, in->data,
          k->x, dout->data, k->x, din->data, k->bias, weight->data,
          dweight->data, dbias->data, kernel->op.p.bn.eps, mean, inv_std));
  return AX_OK;
}
