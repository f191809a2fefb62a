// @ts-check
// Runs an async job so that requests arriving while it runs are neither dropped nor queued one
// by one: they coalesce into a single rerun once the current run ends (a redraw after a burst of
// input, say).

export class Coalescer {
  /** @param {() => Promise<void>} job */
  constructor(job) {
    this.job = job;
    this.running = false;
    this.again = false;
  }

  /** Runs the job now, or asks the run in progress to go round once more. Resolves true for the
   * call that ran the job (after its last round), false for a call that was folded into it; a
   * failure of the job rejects the call that ran it. */
  async request() {
    if (this.running) {
      this.again = true;
      return false;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        await this.job();
      } while (this.again);
      return true;
    } finally {
      this.running = false;
    }
  }

  /** From inside the job: go round once more when this round ends. */
  rerun() {
    this.again = true;
  }
}
