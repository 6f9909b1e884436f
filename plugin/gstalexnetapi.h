/* GST_ALEXNET_API marks the public API of libgstalexnet-common (metas,
 * events, queries, the data set list, the statistics file): the library is
 * built with hidden visibility, so only what is marked is exported. */
#ifndef __GST_ALEXNET_API_H__
#define __GST_ALEXNET_API_H__

#define GST_ALEXNET_API extern __attribute__ ((visibility ("default")))

#endif
