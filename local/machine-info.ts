import { cpus, loadavg, platform, release, totalmem } from 'node:os';

/** The machine a bench or chaos run ran on, as their reports state it. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGb: number;
  node: string;
  os: string;
  /** The 1-minute load average as the run began: anything else running skews every row. */
  loadBefore: number;
}

export function machineInfo(): MachineInfo {
  const cores = cpus();
  return {
    cpu: cores[0]?.model.trim() ?? 'unknown',
    cores: cores.length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    os: `${platform()} ${release()}`,
    loadBefore: Number((loadavg()[0] ?? 0).toFixed(2)),
  };
}
