# frozen_string_literal: true

# Starts real Medic servers (`python -m medic run`) for the client tests.

require "minitest/autorun"
require "net/http"
require "securerandom"
require "socket"
require "tmpdir"
require "fileutils"
require "stringio"
require "medic/client"

module MedicTestServer
  REPO = File.expand_path("../../..", __dir__)

  module_function

  def python
    return ENV["MEDIC_PYTHON"] unless ENV["MEDIC_PYTHON"].to_s.empty?

    venv = File.join(REPO, ".venv", "bin", "python")
    File.exist?(venv) ? venv : "python3"
  end

  def free_port
    server = TCPServer.new("127.0.0.1", 0)
    server.addr[1]
  ensure
    server&.close
  end

  def skip_reason
    return @skip_reason if defined?(@skip_reason)

    probe = "import importlib.util as u, sys; sys.exit(u.find_spec('medic') is None or u.find_spec('medic.__main__') is None)"
    ok = system(python, "-c", probe, out: File::NULL, err: File::NULL)
    @skip_reason = ok ? nil : "#{python} cannot run `-m medic` (set MEDIC_PYTHON to the server's python)"
  end

  def dir
    @dir ||= Dir.mktmpdir("medic-ruby-test-")
  end

  # Returns the base URL of a running server, starting it on first use.
  def url(auth: "disabled", admin_key: nil)
    (@servers ||= {})[auth] ||= start(auth, admin_key)
    @servers[auth][:url]
  end

  def admin_key
    @admin_key ||= "test-admin-#{SecureRandom.hex(16)}"
  end

  def start(auth, admin_key)
    port = free_port
    log = File.join(dir, "server-#{port}.log")
    env = ENV.to_h.reject { |k, _| k.start_with?("MEDIC_") }.merge(
      "HOST" => "127.0.0.1", "PORT" => port.to_s,
      "MEDIC_DATABASE_URL" => "sqlite:///#{dir}/medic-#{port}.db",
      "MEDIC_AUTH" => auth, "WORKER_INTERVAL_SECONDS" => "60", "LOG_FORMAT" => "text"
    )
    env["MEDIC_ADMIN_API_KEY"] = admin_key if admin_key
    pid = Process.spawn(env, python, "-m", "medic", "run", out: log, err: %i[child out], unsetenv_others: true)
    url = "http://127.0.0.1:#{port}"
    deadline = Time.now + 30
    while Time.now < deadline
      raise "medic server exited early:\n#{File.read(log)[-4000..] || File.read(log)}" if Process.waitpid(pid, Process::WNOHANG)

      begin
        return { pid: pid, url: url } if Net::HTTP.get_response(URI("#{url}/health/live")).code == "200"
      rescue SystemCallError, IOError, Net::ReadTimeout
        nil
      end
      sleep 0.1
    end
    stop(pid)
    raise "medic server not live within 30 s:\n#{File.read(log)}"
  end

  def stop(pid)
    Process.kill("TERM", pid)
    deadline = Time.now + 10
    sleep 0.05 until Process.waitpid(pid, Process::WNOHANG) || Time.now > deadline
    Process.kill("KILL", pid) && Process.wait(pid) if Time.now > deadline
  rescue Errno::ESRCH, Errno::ECHILD
    nil
  end

  def stop_all
    (@servers || {}).each_value { |s| stop(s[:pid]) }
    FileUtils.remove_entry(@dir) if @dir
  end
end

Minitest.after_run { MedicTestServer.stop_all }

class MedicTest < Minitest::Test
  def setup
    if (reason = MedicTestServer.skip_reason)
      flunk(reason) if ENV["MEDIC_REQUIRE_ALL_CLIENTS"] == "1"
      skip(reason)
    end
    @saved_env = ENV.to_h.slice("MEDIC_BASE_URL", "MEDIC_API_KEY")
    ENV.delete("MEDIC_BASE_URL")
    ENV.delete("MEDIC_API_KEY")
  end

  def teardown
    ENV.update(@saved_env) if @saved_env
  end

  def open_url
    MedicTestServer.url
  end

  def auth_url
    MedicTestServer.url(auth: "required", admin_key: MedicTestServer.admin_key)
  end

  def admin_key
    MedicTestServer.admin_key
  end

  def unique_name
    "rb-#{name.sub(/^test_/, '')[0, 30].tr('_', '-')}-#{SecureRandom.hex(3)}"
  end

  def quiet_logger
    @log = StringIO.new
    Logger.new(@log)
  end

  def register(client, heartbeat_name)
    client.register_service(heartbeat_name: heartbeat_name, service_name: "ruby-client-tests", alert_interval: 60)
  end
end
