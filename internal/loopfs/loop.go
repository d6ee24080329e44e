package loopfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// loopClrFD is the LOOP_CLR_FD ioctl: detach a loop device's file.
const loopClrFD = 0x4C01

// LoopDevices lists the loop devices (/dev/loopN) whose backing file is
// image, from sysfs.
func LoopDevices(image string) ([]string, error) {
	want, err := filepath.Abs(image)
	if err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(want); err == nil {
		want = real
	}
	files, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // detached meanwhile
		}
		backing := strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")
		if backing == want {
			out = append(out, "/dev/"+filepath.Base(filepath.Dir(filepath.Dir(f))))
		}
	}
	return out, nil
}

// detach makes sure no loop device holds image: mount(8) set its device
// up to clear itself once unmounted, which the kernel may finish a
// moment later; one still attached then (set up some other way, or
// left by a crash) is detached here.
func detach(image string) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		devs, err := LoopDevices(image)
		if err != nil || len(devs) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			for _, dev := range devs {
				if err := clearLoop(dev); err != nil {
					return fmt.Errorf("detaching %s from %s: %w", dev, image, err)
				}
			}
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func clearLoop(dev string) error {
	f, err := os.Open(dev)
	if err != nil {
		return err
	}
	defer f.Close()
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), loopClrFD, 0)
	if errno != 0 && errno != syscall.ENXIO { // ENXIO: not attached
		return errno
	}
	return nil
}

// mountsOf counts the mounts, in the namespace d mounts in, of the
// filesystem mounted at path: its own mount, and any bind of a
// directory inside it.
func (d *Dir) mountsOf(path string) (int, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(d.view(path), &st); err != nil {
		return 0, err
	}
	info := "/proc/self/mountinfo"
	if d.proc != "" {
		info = d.proc + "/mountinfo"
	}
	b, err := os.ReadFile(info)
	if err != nil {
		return 0, err
	}
	dev := fmt.Sprintf("%d:%d", unixMajor(st.Dev), unixMinor(st.Dev))
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[2] == dev {
			n++
		}
	}
	return n, nil
}

// unixMajor and unixMinor split a Linux device number.
func unixMajor(dev uint64) uint64 { return (dev>>8)&0xfff | (dev>>32)&^0xfff }
func unixMinor(dev uint64) uint64 { return dev&0xff | (dev>>12)&^0xff }
