# frozen_string_literal: true

module Medic
  VERSION = "1.0.0"
end
