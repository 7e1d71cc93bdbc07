// Package nativeinit quiets a C library that OpenCV pulls in before the libraries initialise.
// Import it (for its side effect) from package main only.
//
// FFmpeg's libavformat links libssh-gcrypt, whose load-time constructor initialises libgcrypt's
// secure memory. Where mlock(2) is refused (a systemd-nspawn container's seccomp filter, a zero
// RLIMIT_MEMLOCK) libgcrypt prints "Warning: using insecure memory!" to stderr at every start,
// before main runs, and that line lands in the journal. libssh keeps no secret in that memory.
// A function in the executable's .preinit_array runs before any shared library's constructor
// (ELF gABI; glibc runs it after its own early set-up), so it can tell libgcrypt, found with
// dlsym so that a build without it is unaffected, not to warn: GCRYCTL_DISABLE_SECMEM_WARN only
// sets a flag and does not initialise the library.
package nativeinit

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>

// GCRYCTL_DISABLE_SECMEM_WARN in <gcrypt.h> (libgcrypt 1.x ABI; 27 since 1.2).
#define EDGECAM_GCRYCTL_DISABLE_SECMEM_WARN 27

typedef unsigned int (*edgecam_gcry_control_fn)(int, ...);

static int edgecam_gcrypt_quieted;

static void edgecam_quiet_gcrypt(void) {
	edgecam_gcry_control_fn f = (edgecam_gcry_control_fn)dlsym(RTLD_DEFAULT, "gcry_control");
	if (f) {
		f(EDGECAM_GCRYCTL_DISABLE_SECMEM_WARN, 0);
		edgecam_gcrypt_quieted = 1;
	}
}

__attribute__((section(".preinit_array"), used))
static void (*edgecam_preinit)(void) = edgecam_quiet_gcrypt;

static int edgecam_gcrypt_was_quieted(void) { return edgecam_gcrypt_quieted; }
*/
import "C"

// GcryptQuieted reports whether libgcrypt was loaded and told not to warn before the libraries'
// constructors ran.
func GcryptQuieted() bool { return C.edgecam_gcrypt_was_quieted() != 0 }
