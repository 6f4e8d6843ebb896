//go:build unix

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// newProcessGroup makes cmd the leader of a process group of its own, so
// that what it starts (go run's program, Vite's esbuild) can be signalled
// with it, and so that a Ctrl+C in the terminal reaches "mizan dev" alone,
// which then stops each child once.
func newProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// interruptProcessGroup sends SIGINT to the process group p leads.
func interruptProcessGroup(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGINT)
}

// killProcessGroup sends SIGKILL to the process group p leads: whatever is
// left in it.
func killProcessGroup(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
}
