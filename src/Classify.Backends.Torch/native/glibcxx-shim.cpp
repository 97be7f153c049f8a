// GCC 13's <iostream> makes each object that includes it refer to std::ios_base_library_init()
// (GLIBCXX_3.4.32) instead of constructing a static std::ios_base::Init: the reference only demands a
// libstdc++ that sets up std::cout & co. itself, and the function does nothing. On an older libstdc++
// (Debian 12, RHEL 8/9) libtorch, built with an older GCC, still constructs ios_base::Init, so the streams are
// set up before libLibTorchSharp.so runs. This empty definition answers the reference. See glibcxx-compat.sh.
namespace std { void ios_base_library_init() {} }
