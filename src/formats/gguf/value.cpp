#include "formats/gguf/gguf.h"
