/** Resident memory of a process from Linux's /proc; undefined elsewhere rather than a wrong number. */
import { readFileSync } from 'node:fs';

/** VmRSS of `pid` in bytes. */
export function rssBytesOf(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
