// Compiled (not run) by `npm test`: the schedule types accept what docs/schedules.md describes.
import { MedicClient, type ScheduleRecord, type ServiceRegistration } from "../src/index.js";

const nightly: ServiceRegistration = {
  heartbeat_name: "nightly-backup",
  service_name: "backup",
  schedule: { cron: "0 3 * * *", timezone: "Europe/Berlin", grace: 900, start_margin: 300, max_runtime: 3600, min_runtime: 60 },
};

export async function nextSlot(client: MedicClient): Promise<string | undefined> {
  const schedule: ScheduleRecord | undefined = (await client.registerService(nightly)).schedule;
  return schedule?.kind === "cron" ? schedule.next_slots[0]?.utc : undefined;
}
