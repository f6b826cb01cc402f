# frozen_string_literal: true

# Lets `require "medic-client"` (the gem name) work as well as `require "medic/client"`.
require_relative "medic/client"
