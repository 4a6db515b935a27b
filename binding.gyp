# node-gyp build of the CPU core, for toolchains that expect binding.gyp (node-gyp rebuild,
# @electron/rebuild). CMakeLists.txt (cmake-js) is the primary build and the only one that makes
# the CUDA plugin; both produce build/Release/kiln.node with the same sources and flags.
#
# The source lists come from scripts/sources.mjs, which globs the folders CMakeLists.txt globs.
# gyp cannot give single files their own flags, so the *_avx2.cpp / *_avx512.cpp kernels (chosen
# at run time by native/cpu/cpu_info.cpp) are built as static libraries with their ISA flags.
{
  "target_defaults": {
    "defines": ["NAPI_VERSION=6", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags": ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fvisibility=hidden", "-fPIC", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    # CMakeLists.txt builds plain C++17 with RTTI and exceptions; node's common.gypi would give
    # gnu++17 without them.
    "cflags_cc!": ["-std=gnu++17", "-fno-rtti", "-fno-exceptions"],
    "cflags_cc": ["-std=c++17", "-frtti", "-fexceptions"],
    "xcode_settings": {
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "CLANG_CXX_LIBRARY": "libc++",
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "GCC_ENABLE_CPP_RTTI": "YES",
      "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
      "MACOSX_DEPLOYMENT_TARGET": "10.15",
      "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fno-math-errno", "-fno-trapping-math"],
    },
    "msvs_settings": {
      "VCCLCompilerTool": {
        "AdditionalOptions": ["/std:c++17", "/EHsc", "/O2"],
        "ExceptionHandling": 1,
        "RuntimeTypeInfo": "true",
      },
    },
  },
  "targets": [
    {
      "target_name": "kiln",
      "sources": ["<!@(node scripts/sources.mjs core)"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "conditions": [
        ["target_arch=='x64' or target_arch=='ia32'", {
          "dependencies": ["kiln_avx2", "kiln_avx512"],
        }, {
          # elsewhere the ISA files compile to nothing and need no flags
          "sources": ["<!@(node scripts/sources.mjs avx2)", "<!@(node scripts/sources.mjs avx512)"],
        }],
        ["OS=='linux'", {
          "libraries": ["-ldl", "-pthread"],
        }],
      ],
    },
  ],
  "conditions": [
    ["target_arch=='x64' or target_arch=='ia32'", {
      "targets": [
        {
          "target_name": "kiln_avx2",
          "type": "static_library",
          "sources": ["<!@(node scripts/sources.mjs avx2)"],
          "cflags": ["-mavx2", "-mfma"],
          "xcode_settings": { "OTHER_CFLAGS": ["-mavx2", "-mfma"] },
          "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/arch:AVX2"] } },
        },
        {
          "target_name": "kiln_avx512",
          "type": "static_library",
          "sources": ["<!@(node scripts/sources.mjs avx512)"],
          "cflags": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma"],
          "xcode_settings": { "OTHER_CFLAGS": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma"] },
          "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/arch:AVX512"] } },
        },
      ],
    }],
  ],
}
