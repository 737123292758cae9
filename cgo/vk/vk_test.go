package vk

import (
	"bytes"
	"debug/elf"
	"os"
	"strings"
	"testing"
)

// TestCopyRoundTrip opens the first device, copies host → device → host and
// checks the bytes and the memory accounting.
func TestCopyRoundTrip(t *testing.T) {
	in, err := NewInstance()
	if err != nil {
		t.Fatalf("no Vulkan instance (install a driver, e.g. mesa-vulkan-drivers): %v", err)
	}
	defer in.Destroy()
	pds, err := in.PhysicalDevices()
	if err != nil || len(pds) == 0 {
		t.Fatalf("no Vulkan physical device: %v", err)
	}
	for _, pd := range pds {
		t.Logf("%s type=%d api=%s subgroup=%d range=%d alloc=%d", pd.Props.Name, pd.Props.Type, pd.Props.APIString(),
			pd.Props.SubgroupSize, pd.Props.MaxStorageBufferRange, pd.Props.MaxMemoryAllocationSize)
	}
	d, err := in.NewDevice(pds[0])
	if err != nil {
		t.Fatal(err)
	}
	defer d.Destroy()
	src, err := d.NewBuffer(1024, true)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := d.NewBuffer(1024, false)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := d.NewBuffer(1024, true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range src.Bytes() {
		src.Bytes()[i] = byte(i * 7)
	}
	var c Commands
	c.Copy(src.Handle, 0, dev.Handle, 0, 1024, false)
	c.Fill(dev.Handle, 512, 16, 0x01020304, true)
	c.Copy(dev.Handle, 0, dst.Handle, 0, 1024, true)
	s, err := d.Submit(&c)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(s); err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), src.Bytes()...)
	for i := 512; i < 528; i += 4 {
		copy(want[i:], []byte{4, 3, 2, 1})
	}
	if !bytes.Equal(dst.Bytes(), want) {
		t.Fatal("round trip differs")
	}
	if d.AllocatedBytes() != 3*1024 {
		t.Fatalf("allocated %d", d.AllocatedBytes())
	}
	d.FreeBuffer(src)
	d.FreeBuffer(dev)
	d.FreeBuffer(dst)
	if d.AllocatedBytes() != 0 || d.LiveBuffers() != 0 {
		t.Fatalf("leak: %d bytes in %d buffers", d.AllocatedBytes(), d.LiveBuffers())
	}
	if e, w := ValidationCounts(); e != 0 || w != 0 {
		t.Fatalf("%d validation errors, %d warnings", e, w)
	}
}

// TestLoadErrors: a missing loader, and a library that is not one, fail with
// a message naming the file, and leave the process able to load the real one.
func TestLoadErrors(t *testing.T) {
	loadMu.Lock()
	err := loadLibrary([]string{"/nonexistent/libvulkan.so.1", "/nonexistent/libvulkan.so"})
	err2 := loadLibrary([]string{"libc.so.6"})
	loadMu.Unlock()
	t.Log(err)
	t.Log(err2)
	if err == nil || !strings.HasPrefix(err.Error(), "/nonexistent/libvulkan.so.1 not found: ") {
		t.Fatalf("missing loader: %v", err)
	}
	err = err2
	if err == nil || !strings.Contains(err.Error(), "libc.so.6 is not a usable Vulkan loader: no entry point vkGetInstanceProcAddr") {
		t.Fatalf("libc as the loader: %v", err)
	}
	if err := Load(); err != nil {
		t.Fatal(err)
	}
	if !Loaded() {
		t.Fatal("Load succeeded but Loaded is false")
	}
}

// TestNoLinkedLoader: the binary does not link libvulkan; it is dlopened.
func TestNoLinkedLoader(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range libs {
		if strings.Contains(l, "vulkan") {
			t.Fatalf("the test binary links %s (all: %v)", l, libs)
		}
	}
}
