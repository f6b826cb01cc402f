# frozen_string_literal: true

require_relative "test_helper"

# A real client that also remembers each request and its outcome.
class RecordingClient < Medic::Client
  attr_reader :calls

  def initialize(**kwargs)
    super
    @calls = []
  end

  private

  def request(method, path, body: nil, query: nil)
    result = super
    @calls << [method, path, body, :ok]
    result
  rescue Medic::Error => e
    @calls << [method, path, body, e.class]
    raise
  end

  public

  def job_calls(name)
    @calls.select { |c| c[1].include?("/v2/heartbeat/#{name}/") }
          .map { |_m, path, body, outcome| [path.split("/").last, body, outcome] }
  end
end

class ClientTest < MedicTest
  # The run as the server recorded it (GET /v2/services/<name>/runs).
  def server_run(name, run_id)
    reply = JSON.parse(Net::HTTP.get(URI("#{open_url}/v2/services/#{name}/runs")))
    reply["results"].find { |run| run["run_id"] == run_id } || flunk("run #{run_id} not recorded")
  end

  def test_send_heartbeat_success
    client = Medic::Client.new(base_url: open_url)
    hb = unique_name
    register(client, hb)
    stored = client.send_heartbeat(hb, status: "degraded")
    assert_equal "DEGRADED", stored["status"]
    client.send_heartbeat(hb, service_name: "ruby-client-tests")
    beats = client.get_heartbeats(heartbeat_name: hb, max_count: 10)
    assert_equal %w[UP DEGRADED], beats.map { |b| b["status"] } # newest first
    assert_equal hb, beats.first["heartbeat_name"]
  end

  def test_register_service_is_idempotent
    client = Medic::Client.new(base_url: open_url)
    hb = unique_name
    first = client.register_service(heartbeat_name: hb, service_name: "svc", alert_interval: 5, team: "sre", priority: "p4")
    again = client.register_service(heartbeat_name: hb, service_name: "svc", alert_interval: 5)
    assert_equal hb, first["heartbeat_name"]
    assert_equal hb, again["heartbeat_name"]
    service = client.get_service(hb)
    assert_equal hb, service["heartbeat_name"]
    assert_equal [1, 0, 0], service.values_at("active", "muted", "down")
  end

  def test_unknown_heartbeat_raises_api_error
    client = RecordingClient.new(base_url: open_url, backoff: 0.01)
    error = assert_raises(Medic::APIError) { client.send_heartbeat("rb-no-such-heartbeat") }
    assert_equal 404, error.status
    assert_kind_of Medic::Error, error
    assert_equal 1, client.calls.size, "a 404 must not be retried"
  end

  def test_invalid_registration_raises_api_error
    client = Medic::Client.new(base_url: open_url)
    error = assert_raises(Medic::APIError) do
      client.register_service(heartbeat_name: unique_name, service_name: "svc", alert_interval: 0)
    end
    assert_equal 400, error.status
  end

  def test_register_service_with_a_cron_schedule
    client = Medic::Client.new(base_url: open_url)
    hb = unique_name
    schedule = { cron: "0 3 * * *", timezone: "Europe/Berlin", grace: 600, start_margin: 300, max_runtime: 3600, min_runtime: 60 }
    record = client.register_service(heartbeat_name: hb, service_name: "nightly", schedule: schedule)
    assert_equal "cron", record["schedule"]["kind"]
    assert_equal "at 03:00 every day, Europe/Berlin", record["schedule"]["description"]
    assert_equal [300, 3600, 60], record["schedule"].values_at("start_margin", "max_runtime", "min_runtime")
    assert_equal 600, record["grace_period_seconds"]
    assert_equal "Europe/Berlin", client.get_service(hb)["schedule"]["timezone"]
    error = assert_raises(Medic::APIError) do
      client.register_service(heartbeat_name: unique_name, service_name: "nightly",
                              schedule: { cron: "0 3 * * *", timezone: "Mars/Olympus" })
    end
    assert_equal 400, error.status
    assert_includes error.message, "schedule.timezone"
  end

  def test_server_down_retries_then_fails_clearly
    closed = "http://127.0.0.1:#{MedicTestServer.free_port}"
    client = Medic::Client.new(base_url: closed, retries: 3, backoff: 0.01)
    attempts = 0
    counting = Module.new do
      define_method(:perform) do |*args|
        attempts += 1
        super(*args)
      end
    end
    client.singleton_class.prepend(counting)
    error = assert_raises(Medic::ConnectionError) { client.send_heartbeat("anything") }
    assert_equal 4, attempts
    assert_equal 4, error.attempts
    assert_includes error.message, "cannot reach Medic at #{closed}"
    assert_includes error.message, "gave up after 4 attempts"
  end

  def test_api_key_sent
    hb = unique_name
    keyed = Medic::Client.new(base_url: auth_url, api_key: admin_key)
    register(keyed, hb)
    assert_equal hb, keyed.send_heartbeat(hb)["heartbeat_name"]

    missing = assert_raises(Medic::APIError) { Medic::Client.new(base_url: auth_url).send_heartbeat(hb) }
    assert_equal 401, missing.status
    wrong = assert_raises(Medic::APIError) { Medic::Client.new(base_url: auth_url, api_key: "not-a-key").send_heartbeat(hb) }
    assert_includes [401, 403], wrong.status
    refute_includes Medic::Client.new(base_url: auth_url, api_key: admin_key).inspect, admin_key
  end

  def test_settings_from_environment
    hb = unique_name
    register(Medic::Client.new(base_url: auth_url, api_key: admin_key), hb)
    ENV["MEDIC_BASE_URL"] = "#{auth_url}/"
    ENV["MEDIC_API_KEY"] = admin_key
    client = Medic::Client.new
    assert_equal auth_url, client.base_url
    assert_equal "UP", client.send_heartbeat(hb)["status"]
  end

  def test_job_success
    client = RecordingClient.new(base_url: open_url)
    hb = unique_name
    register(client, hb)
    seen = nil
    result = client.job(hb) { |run_id| seen = run_id; 42 }
    assert_equal 42, result
    calls = client.job_calls(hb)
    assert_equal [%w[start ok], %w[complete ok]], calls.map { |a, _b, o| [a, o.to_s] }
    assert calls.all? { |_a, body, _o| body[:run_id] == seen }
    assert_equal "succeeded", server_run(hb, seen)["state"]
  end

  def test_job_failure_reports_and_reraises
    client = RecordingClient.new(base_url: open_url)
    hb = unique_name
    register(client, hb)
    error = assert_raises(ArgumentError) { client.job(hb) { raise ArgumentError, "disk full" } }
    assert_equal "disk full", error.message
    calls = client.job_calls(hb)
    assert_equal [%w[start ok], %w[fail ok]], calls.map { |a, _b, o| [a, o.to_s] }
    assert_equal "ArgumentError: disk full", calls[1][1][:message]
    assert_equal calls[0][1][:run_id], calls[1][1][:run_id]
    run = server_run(hb, calls[0][1][:run_id])
    assert_equal "failed", run["state"]
    assert_equal "ArgumentError: disk full", run["message"]
  end

  def test_job_runs_when_medic_is_down
    closed = "http://127.0.0.1:#{MedicTestServer.free_port}"
    client = Medic::Client.new(base_url: closed, retries: 1, backoff: 0.01, logger: quiet_logger)
    assert_equal :done, client.job("rb-anything") { :done }
    assert_includes @log.string, "job start"
    assert_includes @log.string, "job complete"
  end

  def test_job_signals_without_run_id
    client = Medic::Client.new(base_url: open_url)
    hb = unique_name
    register(client, hb)
    run_id = client.start_job(hb)
    refute_nil run_id
    assert_equal run_id, client.complete_job(hb)
    assert_equal "explicit-run-1", client.start_job(hb, run_id: "explicit-run-1")
    assert_equal "explicit-run-1", client.fail_job(hb, run_id: "explicit-run-1", message: "exit 3")
    error = assert_raises(Medic::APIError) { client.start_job("rb-no-such-job") }
    assert_equal 404, error.status
  end
end
