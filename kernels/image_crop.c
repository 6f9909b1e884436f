/* placeholder */
#include <stddef.h>
typedef int ax_placeholder_image_crop;
