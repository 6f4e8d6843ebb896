//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// killGroup makes cmd run in a process group of its own and, when its
// context ends, kills the whole group: "go run" starts the program as a
// child of its own, which killing the shell alone would leave running.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
