# Source this to use the plugin from the build folder:
#   source scripts/env.sh && gst-inspect-1.0 alexnet
_alexnet_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GST_PLUGIN_PATH="$_alexnet_root/build/elements${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export PATH="$_alexnet_root/build/tools:$PATH"
unset _alexnet_root
