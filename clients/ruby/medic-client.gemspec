# frozen_string_literal: true

require_relative "lib/medic/version"

Gem::Specification.new do |spec|
  spec.name = "medic-client"
  spec.version = Medic::VERSION
  spec.summary = "Client for the Medic heartbeat monitoring service"
  spec.description = "Send heartbeats, register services and report job runs to Medic. Standard library only."
  spec.authors = ["Medic maintainers"]
  spec.required_ruby_version = ">= 2.7"
  spec.files = Dir["lib/**/*.rb", "README.md"]
  spec.require_paths = ["lib"]
  spec.metadata["rubygems_mfa_required"] = "true"
end
