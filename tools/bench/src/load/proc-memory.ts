/**
 * Resident memory of a process from Linux's /proc/<pid>/status: VmRSS now and VmHWM, the peak
 * the process ever reached. Undefined where there is no /proc (or the process is gone), rather
 * than a wrong number.
 */
import { readFileSync } from 'node:fs';

export interface ProcMemory {
  rssBytes: number;
  peakRssBytes: number;
}

export function procMemory(pid: number): ProcMemory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kB = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const rssBytes = kB('VmRSS');
  const peakRssBytes = kB('VmHWM');
  return rssBytes === undefined || peakRssBytes === undefined ? undefined : { rssBytes, peakRssBytes };
}
