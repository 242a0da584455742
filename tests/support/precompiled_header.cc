// Nothing: this file exists so that the parley_test_pch target compiles the
// tests' shared precompiled header (see tests/support/CMakeLists.txt).
