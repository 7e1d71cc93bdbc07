// Command mkdeb builds edgecam's Debian package with nFPM (github.com/goreleaser/nfpm/v2): the
// binary, the ONNX Runtime library in /usr/lib/edgecam, the systemd unit, the sysusers.d file,
// the configuration and secrets conffiles and the docs. Its Depends: are computed from the ELF
// NEEDED entries of the binary and the ONNX Runtime library, plus the FFmpeg libraries the binary
// opens with dlopen (dlopened), mapped to Debian packages and their shlibs dependency (as
// dpkg-shlibdeps does), so `apt install ./edgecam_*.deb` pulls exactly the runtime libraries
// (OpenCV 4.6 and FFmpeg 5.1). The model is not packaged (AGPL-3.0).
//
// It is a separate module so that nFPM and its dependencies stay out of the edgecam binary and
// its module graph. `make deb` runs it:
//
//	go run . --root .. --arch amd64 --version 1.2.3 --binary ../bin/edgecam \
//	    --ort-lib ../lib/onnxruntime/libonnxruntime.so.1 --out ../dist
package main

import (
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
)

type options struct {
	root, arch, version, binary, ortLib, out string
}

func main() {
	var o options
	flag.StringVar(&o.root, "root", ".", "edgecam source folder")
	flag.StringVar(&o.arch, "arch", "amd64", "Debian architecture of the package: amd64 or arm64")
	flag.StringVar(&o.version, "version", "", "package version (Debian form, from scripts/version.sh)")
	flag.StringVar(&o.binary, "binary", "", "the edgecam binary, built for --arch with the installed ldflags")
	flag.StringVar(&o.ortLib, "ort-lib", "", "libonnxruntime.so.1 for --arch")
	flag.StringVar(&o.out, "out", "dist", "output folder")
	flag.Parse()
	path, err := build(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mkdeb: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

// dlopened are the libraries the binary opens with dlopen instead of linking them, so they have
// no NEEDED entry: FFmpeg's, which internal/videodec loads at the first RTSP decode (its
// defaultSonames, the major versions of the FFmpeg headers it is built with; a test there checks
// this list names them).
var dlopened = []string{"libavcodec.so.59", "libavutil.so.57", "libswscale.so.6"}

// machines maps the Debian architecture to the ELF machine the files must be built for.
var machines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

func build(o options) (string, error) {
	if o.version == "" || o.binary == "" || o.ortLib == "" {
		return "", errors.New("--version, --binary and --ort-lib are required")
	}
	machine, ok := machines[o.arch]
	if !ok {
		return "", fmt.Errorf("--arch %q: use amd64 or arm64", o.arch)
	}
	var needed []string
	for _, f := range []string{o.binary, o.ortLib} {
		n, err := elfNeeded(f, machine)
		if err != nil {
			return "", err
		}
		needed = append(needed, n...)
	}
	depends, err := debDepends(append(needed, dlopened...))
	if err != nil {
		return "", err
	}
	sysusers, err := os.ReadFile(filepath.Join(o.root, "packaging/debian/edgecam.sysusers"))
	if err != nil {
		return "", err
	}
	// preinst makes the user from the same sysusers.d lines the package installs.
	preinst, err := expand(filepath.Join(o.root, "packaging/debian/preinst"), "@SYSUSERS@", strings.TrimSpace(string(sysusers)))
	if err != nil {
		return "", err
	}
	defer os.Remove(preinst)

	src := func(p string) string { return filepath.Join(o.root, p) }
	info := &nfpm.Info{
		Name:          "edgecam",
		Arch:          o.arch,
		Platform:      "linux",
		Version:       o.version,
		VersionSchema: "none",
		Section:       "video",
		Priority:      "optional",
		Maintainer:    "edgecam maintainers <edgecam@example.com>",
		Homepage:      "https://github.com/edgecam/edgecam",
		License:       "proprietary; bundles ONNX Runtime (MIT)",
		Description: "camera object counts to Azure IoT Hub / IoT Central\n" +
			"edgecam takes a frame from a Raspberry Pi camera, an HTTP snapshot URL, an RTSP\n" +
			"stream or a file on a timer, runs a YOLOv5 ONNX model on it (ONNX Runtime, bundled\n" +
			"in /usr/lib/edgecam) and sends the per-label counts as telemetry to Azure IoT Hub\n" +
			"or IoT Central over MQTT. The model is not included: see\n" +
			"/usr/share/doc/edgecam/docs/install.md.",
		Overridables: nfpm.Overridables{
			Depends:  depends,
			Suggests: []string{"rpicam-apps"},
			Umask:    0o022,
			Contents: files.Contents{
				{Source: o.binary, Destination: "/usr/bin/edgecam", FileInfo: &files.ContentFileInfo{Mode: 0o755}},
				{Source: o.ortLib, Destination: "/usr/lib/edgecam/libonnxruntime.so.1", FileInfo: &files.ContentFileInfo{Mode: 0o644}},
				{Source: src("systemd/edgecam.service"), Destination: "/usr/lib/systemd/system/edgecam.service", FileInfo: &files.ContentFileInfo{Mode: 0o644}},
				{Source: src("packaging/debian/edgecam.sysusers"), Destination: "/usr/lib/sysusers.d/edgecam.conf", FileInfo: &files.ContentFileInfo{Mode: 0o644}},
				{Source: src("packaging/debian/config.yaml"), Destination: "/etc/edgecam/config.yaml", Type: files.TypeConfig,
					FileInfo: &files.ContentFileInfo{Mode: 0o640, Owner: "root", Group: "edgecam"}},
				{Source: src("packaging/debian/secrets.env"), Destination: "/etc/edgecam/secrets.env", Type: files.TypeConfig,
					FileInfo: &files.ContentFileInfo{Mode: 0o600, Owner: "root", Group: "root"}},
				{Destination: "/etc/edgecam", Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: 0o755}},
				{Source: src("README.md"), Destination: "/usr/share/doc/edgecam/README.md", FileInfo: &files.ContentFileInfo{Mode: 0o644}},
				{Source: src("configs/example.yaml"), Destination: "/usr/share/doc/edgecam/example.yaml", FileInfo: &files.ContentFileInfo{Mode: 0o644}},
			},
			Scripts: nfpm.Scripts{
				PreInstall:  preinst,
				PostInstall: src("packaging/debian/postinst"),
				PreRemove:   src("packaging/debian/prerm"),
				PostRemove:  src("packaging/debian/postrm"),
			},
			Deb: nfpm.Deb{Compression: "xz"},
		},
	}
	// Every user document, kept in docs/ beside the README so the README's links and theirs work.
	docs, err := filepath.Glob(src("docs/*.md"))
	if err != nil || len(docs) == 0 {
		return "", fmt.Errorf("no documents in %s: %v", src("docs"), err)
	}
	for _, d := range docs {
		info.Contents = append(info.Contents, &files.Content{Source: d, Destination: "/usr/share/doc/edgecam/docs/" + filepath.Base(d),
			FileInfo: &files.ContentFileInfo{Mode: 0o644}})
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.Validate(info); err != nil {
		return "", err
	}
	pkg, err := nfpm.Get("deb")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return "", err
	}
	target := filepath.Join(o.out, fmt.Sprintf("edgecam_%s_%s.deb", o.version, o.arch))
	tmp := target + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	if err := pkg.Package(info, f); err != nil {
		f.Close()
		os.Remove(tmp)
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return target, os.Rename(tmp, target)
}

// expand writes a copy of file with placeholder replaced and returns its path.
func expand(file, placeholder, value string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	if !strings.Contains(string(b), placeholder) {
		return "", fmt.Errorf("%s lacks %s", file, placeholder)
	}
	f, err := os.CreateTemp("", "edgecam-"+filepath.Base(file)+"-")
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(strings.ReplaceAll(string(b), placeholder, value)); err != nil {
		f.Close()
		return "", err
	}
	return f.Name(), f.Close()
}

// elfNeeded returns the DT_NEEDED sonames of file, after checking it was built for machine.
func elfNeeded(file string, machine elf.Machine) ([]string, error) {
	f, err := elf.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if f.Machine != machine {
		return nil, fmt.Errorf("%s is built for %v, not %v", file, f.Machine, machine)
	}
	return f.ImportedLibraries()
}

// debDepends maps sonames to Debian dependencies the way dpkg-shlibdeps does with shlibs files:
// the package that holds the library (looked up on this machine with dpkg-query; Debian's
// library package names are the same on every architecture) and the dependency its shlibs file
// declares for that soname, e.g. libopencv_core.so.406 -> "libopencv-core406 (>= 4.6.0+dfsg)".
// Libraries the package brings itself (libonnxruntime) are skipped; the dynamic loader counts as
// libc6.
func debDepends(sonames []string) ([]string, error) {
	var deps []string
	for _, so := range sonames {
		if strings.HasPrefix(so, "libonnxruntime") {
			continue
		}
		if strings.HasPrefix(so, "ld-linux") {
			// The dynamic loader (ld-linux-aarch64.so.1, ld-linux-x86-64.so.2) is part of libc6,
			// which libc.so.6 brings; the host has only its own architecture's loader to look up.
			so = "libc.so.6"
		}
		pkg, err := owner(so)
		if err != nil {
			return nil, err
		}
		dep, err := shlibsDep(pkg, so)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(deps, dep) {
			deps = append(deps, dep)
		}
	}
	slices.Sort(deps)
	return deps, nil
}

// owner returns the Debian package (without architecture) holding the host's copy of soname.
func owner(soname string) (string, error) {
	out, err := exec.Command("dpkg-query", "-S", "*/"+soname).Output()
	if err != nil {
		return "", fmt.Errorf("no installed package holds %s (install the -dev packages the build uses): dpkg-query: %v", soname, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		pkgs, path, ok := strings.Cut(line, ": ")
		if !ok || filepath.Base(path) != soname || !strings.Contains(path, "/lib") {
			continue
		}
		pkg, _, _ := strings.Cut(strings.Split(pkgs, ", ")[0], ":")
		if strings.HasSuffix(pkg, "-cross") { // a cross toolchain's copy, not a runtime package
			continue
		}
		return pkg, nil
	}
	return "", fmt.Errorf("no installed package holds %s", soname)
}

// shlibsDep reads pkg's shlibs file for soname's dependency, falling back to the bare package.
func shlibsDep(pkg, soname string) (string, error) {
	name, version := splitSoname(soname)
	candidates, _ := filepath.Glob("/var/lib/dpkg/info/" + pkg + ":*.shlibs")
	candidates = append(candidates, "/var/lib/dpkg/info/"+pkg+".shlibs")
	for _, c := range candidates {
		b, err := os.ReadFile(c)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			fields := strings.Fields(line)
			if len(fields) >= 3 && strings.HasSuffix(fields[0], ":") { // "udeb: ..." lines
				continue
			}
			if len(fields) >= 3 && fields[0] == name && fields[1] == version {
				return strings.Join(fields[2:], " "), nil
			}
		}
	}
	return pkg, nil
}

// splitSoname splits "libopencv_core.so.406" into ("libopencv_core", "406") and
// "libfoo-1.2.so" into ("libfoo", "1.2"), the keys of a shlibs file.
func splitSoname(so string) (name, version string) {
	if i := strings.Index(so, ".so."); i >= 0 {
		return so[:i], so[i+len(".so."):]
	}
	base := strings.TrimSuffix(so, ".so")
	if i := strings.LastIndex(base, "-"); i >= 0 {
		return base[:i], base[i+1:]
	}
	return base, ""
}
