# Injected right after llama.cpp's project() call (CMAKE_PROJECT_llama.cpp_INCLUDE, set by the
# Makefile). llama-cpp-python forces LLAMA_BUILD_COMMON on, but its Python bindings load only
# libllama and ggml: the common library (argument parsing, chat templates, downloads, an HTTP
# client) serves llama.cpp's own tools and is half of the compile. A normal variable shadows
# the forced cache entry in llama.cpp's directory scope, so neither it nor its install is built.
set(LLAMA_BUILD_COMMON OFF)
