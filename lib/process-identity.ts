import { readFileSync } from 'node:fs';

/**
 * What tells a process from a later one given the same pid (after a reboot, or once pids wrap): the boot it started
 * in and its start time in clock ticks since that boot (field 22 of /proc/<pid>/stat). Undefined where /proc cannot
 * say: the process is gone, or the system is not Linux.
 */
export function processStartId(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2, the command name, is in parentheses and may hold spaces and ')': count fields after the last ')'.
    const startTicks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}:${startTicks}`;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether `pid` is still the process whose start id was recorded (any live process when none was). */
export const isSameProcess = (pid: number, startId: string | undefined): boolean =>
  isAlive(pid) && (startId === undefined || processStartId(pid) === startId);
