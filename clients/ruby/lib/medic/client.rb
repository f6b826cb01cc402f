# frozen_string_literal: true

require "json"
require "logger"
require "net/http"
require "openssl"
require "securerandom"
require "time"
require "uri"
require_relative "version"

module Medic
  # Any failure talking to Medic.
  class Error < StandardError; end

  # Medic answered with a status other than 2xx.
  class APIError < Error
    attr_reader :status, :body

    def initialize(message, status:, body: nil)
      super(message)
      @status = status
      @body = body
    end
  end

  # Medic could not be reached, even after retrying.
  class ConnectionError < Error
    attr_reader :attempts

    def initialize(message, attempts:)
      super(message)
      @attempts = attempts
    end
  end

  # Talks to one Medic server. Safe to share between threads: it keeps no
  # connection state between requests.
  class Client
    DEFAULT_BASE_URL = "http://localhost:5000"
    MAX_BACKOFF = 30.0
    # A server asking for a longer pause than this gets this long: a late heartbeat
    # is worth less than one that fails fast.
    MAX_RETRY_AFTER = 60.0
    # Fail reasons are for humans reading an alert; keep request bodies small.
    MAX_MESSAGE = 2000
    CONNECTION_ERRORS = [
      SocketError, SystemCallError, IOError, Timeout::Error, EOFError,
      Net::OpenTimeout, Net::ReadTimeout, Net::HTTPBadResponse, OpenSSL::SSL::SSLError
    ].freeze

    attr_reader :base_url, :timeout, :retries, :backoff
    attr_accessor :logger

    # base_url defaults to $MEDIC_BASE_URL, then http://localhost:5000; api_key to
    # $MEDIC_API_KEY. retries: extra attempts on connection errors, 5xx and 429;
    # backoff: first retry delay in seconds, doubled each retry.
    def initialize(base_url: nil, api_key: nil, timeout: 5, retries: 3, backoff: 0.5, logger: nil)
      raise ArgumentError, "retries must be >= 0" if retries.negative?

      url = base_url || ENV.fetch("MEDIC_BASE_URL", nil)
      url = DEFAULT_BASE_URL if url.nil? || url.empty?
      @base_url = url.chomp("/")
      @api_key = api_key || (ENV["MEDIC_API_KEY"] unless ENV["MEDIC_API_KEY"].to_s.empty?)
      @timeout = timeout
      @retries = retries
      @backoff = backoff
      @logger = logger || Logger.new($stderr, progname: "medic")
    end

    def inspect
      "#<Medic::Client base_url=#{@base_url.inspect} api_key=#{@api_key ? '[set]' : 'nil'}>"
    end

    # Records a heartbeat; returns the stored heartbeat. Raises Medic::Error.
    def send_heartbeat(heartbeat_name, status: "UP", service_name: nil)
      body = { heartbeat_name: heartbeat_name, status: status.to_s.upcase }
      body[:service_name] = service_name if service_name
      request(:post, "/heartbeat", body: body)
    end

    # Recent heartbeats, newest first.
    def get_heartbeats(heartbeat_name: nil, service_name: nil, max_count: nil)
      query = { heartbeat_name: heartbeat_name, service_name: service_name, maxCount: max_count }.compact
      request(:get, "/heartbeat", query: query)
    end

    # Registers a service (registering it again is not an error); returns the record.
    # Options: threshold, team, priority, runbook, grace_period_seconds, environment,
    # schedule (a cron schedule, then alert_interval may be left out:
    # { cron: "0 3 * * *", timezone: "Europe/Berlin", grace: 600, start_margin: 300,
    #   max_runtime: 3600, min_runtime: 60 }, durations in seconds). The record
    # carries the schedule under "schedule", with "kind", "description" and "next_slots".
    def register_service(heartbeat_name:, service_name:, alert_interval: nil, **options)
      body = { heartbeat_name: heartbeat_name, service_name: service_name, alert_interval: alert_interval }
      request(:post, "/service", body: body.merge(options).compact)
    end

    # One service record (flags active, muted, down are 0 or 1, as the original Medic
    # answered them); Medic::APIError with status 404 when unknown.
    def get_service(heartbeat_name)
      results = request(:get, "/service/#{escape(heartbeat_name)}")
      # A one-element list (the original Medic's shape); servers before that answered the record.
      results.is_a?(Array) ? results.first : results
    end

    # Signals a job run started; returns the run id (the server makes one when none is given).
    def start_job(name, run_id: nil)
      job_signal(name, "start", run_id)
    end

    # Signals a run completed; without run_id the newest open run is closed.
    def complete_job(name, run_id: nil)
      job_signal(name, "complete", run_id)
    end

    # Signals a run failed, with an optional reason.
    def fail_job(name, run_id: nil, message: nil)
      job_signal(name, "fail", run_id, message)
    end

    # Reports one run of the block: start, then complete, or fail with the
    # exception's message (the exception is then re-raised). The block runs even
    # when Medic is unreachable; signal failures are logged, not raised. Yields the
    # run id and returns the block's value.
    def job(name, run_id: nil)
      # Made here, not by the server, so a retried start and the closing signal
      # name the same run even when runs of this job overlap.
      run_id ||= SecureRandom.hex(16)
      quietly("start", name) { start_job(name, run_id: run_id) }
      begin
        result = yield run_id
      rescue SystemExit => e
        # exit(0) from inside a job is a successful run.
        quietly(e.success? ? "complete" : "fail", name) { finish(name, run_id, e.success? ? nil : "exit #{e.status}") }
        raise
      rescue Exception => e # rubocop:disable Lint/RescueException -- report interrupts too, then re-raise
        quietly("fail", name) { fail_job(name, run_id: run_id, message: "#{e.class}: #{e.message}") }
        raise
      end
      quietly("complete", name) { complete_job(name, run_id: run_id) }
      result
    end

    private

    def finish(name, run_id, failure)
      failure ? fail_job(name, run_id: run_id, message: failure) : complete_job(name, run_id: run_id)
    end

    def job_signal(name, action, run_id, message = nil)
      body = {}
      body[:run_id] = run_id if run_id
      body[:message] = message[0, MAX_MESSAGE] if message
      results = request(:post, "/v2/heartbeat/#{escape(name)}/#{action}", body: body)
      (results.is_a?(Hash) && results["run_id"]) || run_id
    end

    def quietly(action, name)
      yield
    rescue Error => e
      @logger&.warn("job #{action} #{name.inspect} failed: #{e.message}")
      nil
    end

    def escape(segment)
      URI.encode_www_form_component(segment.to_s).gsub("+", "%20")
    end

    # Sends one request with retries; returns the envelope's results or raises Medic::Error.
    def request(method, path, body: nil, query: nil)
      uri = URI.parse(@base_url + path)
      uri.query = URI.encode_www_form(query) if query && !query.empty?
      payload = body && JSON.generate(body)
      attempt = 0
      loop do
        attempt += 1
        begin
          response = perform(method, uri, payload)
        rescue *CONNECTION_ERRORS => e
          if attempt <= @retries
            sleep(delay(attempt))
            next
          end
          raise ConnectionError.new(
            "cannot reach Medic at #{@base_url} (#{method.upcase} #{path}): #{e.class}: #{e.message}; " \
            "gave up after #{attempt} attempt#{'s' unless attempt == 1}",
            attempts: attempt
          )
        end
        status = response.code.to_i
        reply = decode(response.body)
        return reply.is_a?(Hash) ? reply["results"] : nil if status.between?(200, 299)

        if (status == 429 || status >= 500) && attempt <= @retries
          sleep(delay(attempt, response["Retry-After"]))
          next
        end
        message = (reply.is_a?(Hash) && reply["message"]) || response.message
        raise APIError.new("#{method.upcase} #{path}: HTTP #{status}: #{message}", status: status, body: reply)
      end
    end

    def perform(method, uri, payload)
      http = Net::HTTP.new(uri.host, uri.port)
      http.use_ssl = uri.scheme == "https"
      http.open_timeout = @timeout
      http.read_timeout = @timeout
      http.write_timeout = @timeout if http.respond_to?(:write_timeout=)
      http.max_retries = 0 # retries are ours, with backoff
      request = (method == :post ? Net::HTTP::Post : Net::HTTP::Get).new(uri)
      request["Accept"] = "application/json"
      request["User-Agent"] = "medic-client-ruby/#{VERSION}"
      request["Authorization"] = "Bearer #{@api_key}" if @api_key
      if payload
        request["Content-Type"] = "application/json"
        request.body = payload
      end
      http.start { |conn| conn.request(request) }
    end

    def decode(text)
      return nil if text.nil? || text.empty?

      JSON.parse(text)
    rescue JSON::ParserError
      { "message" => text[0, 200] }
    end

    def delay(attempt, retry_after = nil)
      asked = parse_retry_after(retry_after)
      return asked if asked

      base = [@backoff * (2**(attempt - 1)), MAX_BACKOFF].min
      # Jitter keeps a fleet of clients from retrying in lock-step after an outage.
      base * (0.5 + (rand / 2))
    end

    def parse_retry_after(value)
      return nil if value.nil? || value.strip.empty?

      seconds = Float(value, exception: false) || (Time.httpdate(value) - Time.now)
      seconds.clamp(0.0, MAX_RETRY_AFTER)
    rescue ArgumentError
      nil
    end
  end
end
